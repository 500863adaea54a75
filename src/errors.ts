/**
 * One catalogue of Bulwark's errors. Each is a value with a stable code, so callers branch on
 * `error.code` rather than on message text, and each edge (CLI, HTTP, MQTT) maps codes to its
 * own protocol form in one place.
 */

export type ErrorCode =
  | 'ConfigInvalid'
  | 'RootKeyInvalid'
  | 'RootKeyMissing'
  | 'RootKeyFileInsecure'
  | 'KeyNotFound'
  | 'KeyDisabled'
  | 'KeyPendingDeletion'
  | 'KeyErased'
  | 'KeyVersionUnavailable'
  | 'KeyInvalidState'
  | 'KeyInvalidArgument'
  | 'SealedContextMismatch'
  | 'SealedValueTampered'
  | 'SealedFormatUnsupported'
  | 'StoreSchemaInvalid'
  | 'StoreConstraint'
  // Another process's write held the embedded database past the wait for it (src/store/sqlite.ts).
  | 'StoreBusy'
  // The AWS control and data planes (src/api and the capabilities behind it).
  | 'InvalidRequest'
  | 'ResourceNotFound'
  | 'ResourceAlreadyExists'
  | 'VersionConflict'
  | 'DeleteConflict'
  | 'LimitExceeded'
  | 'RequestEntityTooLarge'
  | 'Throttling'
  | 'UnknownOperation'
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'UnrecognizedClient'
  | 'InvalidSignature'
  | 'SignatureDoesNotMatch'
  | 'RequestExpired'
  | 'AccessDenied'
  | 'Forbidden'
  | 'Unauthorized'
  | 'InternalFailure'
  // The service cannot take the request now (a mutating call while the audit trail cannot write).
  | 'ServiceUnavailable'
  // IAM (users and access keys).
  | 'NoSuchEntity'
  // Console passwords and MFA devices (src/iam/passwords.ts, src/iam/mfa.ts).
  | 'PasswordPolicyViolation'
  | 'InvalidAuthenticationCode'
  // IAM policy documents (src/iam/policy): IAM's name, without IoT's "Exception" suffix.
  | 'MalformedPolicyDocument'
  // IAM and STS over AWS's Query protocol (src/iam/query), and temporary credentials.
  | 'ExpiredToken'
  | 'InvalidAction'
  | 'MissingAction'
  | 'InvalidInput'
  // Device certificates and CA certificates (src/pki).
  | 'CertificateState'
  | 'CertificateValidation'
  | 'CertificateConflict'
  | 'RegistrationCodeValidation'
  // IoT policies (src/policy).
  | 'MalformedPolicy'
  | 'VersionsLimitExceeded'
  // Device shadows (src/shadow): iot-data's own names for a version conflict and a non-UTF-8 body.
  | 'Conflict'
  | 'UnsupportedDocumentEncoding';

/** How each edge reports an error: the CLI exit code, and AWS's error type and HTTP status. */
interface ErrorShape {
  exitCode: number;
  awsType: string;
  httpStatus: number;
}

const SHAPES: Record<ErrorCode, ErrorShape> = {
  ConfigInvalid: { exitCode: 2, awsType: 'InvalidRequestException', httpStatus: 400 },
  RootKeyInvalid: { exitCode: 2, awsType: 'InternalFailureException', httpStatus: 500 },
  RootKeyMissing: { exitCode: 2, awsType: 'InternalFailureException', httpStatus: 500 },
  RootKeyFileInsecure: { exitCode: 2, awsType: 'InternalFailureException', httpStatus: 500 },
  KeyNotFound: { exitCode: 1, awsType: 'NotFoundException', httpStatus: 404 },
  KeyDisabled: { exitCode: 1, awsType: 'DisabledException', httpStatus: 400 },
  KeyPendingDeletion: { exitCode: 1, awsType: 'KMSInvalidStateException', httpStatus: 400 },
  KeyErased: { exitCode: 1, awsType: 'KMSInvalidStateException', httpStatus: 400 },
  KeyVersionUnavailable: { exitCode: 1, awsType: 'KMSInvalidStateException', httpStatus: 400 },
  KeyInvalidState: { exitCode: 1, awsType: 'KMSInvalidStateException', httpStatus: 400 },
  KeyInvalidArgument: { exitCode: 2, awsType: 'ValidationException', httpStatus: 400 },
  SealedContextMismatch: { exitCode: 1, awsType: 'InvalidCiphertextException', httpStatus: 400 },
  SealedValueTampered: { exitCode: 1, awsType: 'InvalidCiphertextException', httpStatus: 400 },
  SealedFormatUnsupported: { exitCode: 1, awsType: 'InvalidCiphertextException', httpStatus: 400 },
  StoreSchemaInvalid: { exitCode: 2, awsType: 'InternalFailureException', httpStatus: 500 },
  StoreConstraint: { exitCode: 1, awsType: 'ResourceAlreadyExistsException', httpStatus: 409 },
  // Retryable, as AWS's own 503s are: the SDKs and the CLI retry them.
  StoreBusy: { exitCode: 1, awsType: 'ServiceUnavailableException', httpStatus: 503 },
  InvalidRequest: { exitCode: 2, awsType: 'InvalidRequestException', httpStatus: 400 },
  ResourceNotFound: { exitCode: 1, awsType: 'ResourceNotFoundException', httpStatus: 404 },
  ResourceAlreadyExists: {
    exitCode: 1,
    awsType: 'ResourceAlreadyExistsException',
    httpStatus: 409,
  },
  VersionConflict: { exitCode: 1, awsType: 'VersionConflictException', httpStatus: 409 },
  DeleteConflict: { exitCode: 1, awsType: 'DeleteConflictException', httpStatus: 409 },
  LimitExceeded: { exitCode: 1, awsType: 'LimitExceededException', httpStatus: 410 },
  RequestEntityTooLarge: {
    exitCode: 2,
    awsType: 'RequestEntityTooLargeException',
    httpStatus: 413,
  },
  Throttling: { exitCode: 1, awsType: 'ThrottlingException', httpStatus: 429 },
  UnknownOperation: { exitCode: 2, awsType: 'UnknownOperationException', httpStatus: 404 },
  MissingAuthenticationToken: {
    exitCode: 1,
    awsType: 'MissingAuthenticationTokenException',
    httpStatus: 403,
  },
  IncompleteSignature: { exitCode: 1, awsType: 'IncompleteSignatureException', httpStatus: 400 },
  UnrecognizedClient: { exitCode: 1, awsType: 'UnrecognizedClientException', httpStatus: 403 },
  InvalidSignature: { exitCode: 1, awsType: 'InvalidSignatureException', httpStatus: 403 },
  SignatureDoesNotMatch: { exitCode: 1, awsType: 'SignatureDoesNotMatch', httpStatus: 403 },
  RequestExpired: { exitCode: 1, awsType: 'RequestExpired', httpStatus: 403 },
  AccessDenied: { exitCode: 1, awsType: 'AccessDeniedException', httpStatus: 403 },
  // The data plane's refusal (iot-data's ForbiddenException): a device its IoT policies do not
  // allow, a request with neither a signature nor a usable certificate, a reserved topic.
  Forbidden: { exitCode: 1, awsType: 'ForbiddenException', httpStatus: 403 },
  Unauthorized: { exitCode: 1, awsType: 'UnauthorizedException', httpStatus: 401 },
  InternalFailure: { exitCode: 1, awsType: 'InternalFailureException', httpStatus: 500 },
  ServiceUnavailable: { exitCode: 1, awsType: 'ServiceUnavailableException', httpStatus: 503 },
  NoSuchEntity: { exitCode: 1, awsType: 'NoSuchEntityException', httpStatus: 404 },
  PasswordPolicyViolation: {
    exitCode: 2,
    awsType: 'PasswordPolicyViolationException',
    httpStatus: 400,
  },
  InvalidAuthenticationCode: {
    exitCode: 1,
    awsType: 'InvalidAuthenticationCodeException',
    httpStatus: 403,
  },
  MalformedPolicyDocument: { exitCode: 2, awsType: 'MalformedPolicyDocument', httpStatus: 400 },
  ExpiredToken: { exitCode: 1, awsType: 'ExpiredTokenException', httpStatus: 403 },
  InvalidAction: { exitCode: 2, awsType: 'InvalidAction', httpStatus: 400 },
  MissingAction: { exitCode: 2, awsType: 'MissingAction', httpStatus: 400 },
  InvalidInput: { exitCode: 2, awsType: 'InvalidInputException', httpStatus: 400 },
  CertificateState: { exitCode: 1, awsType: 'CertificateStateException', httpStatus: 406 },
  CertificateValidation: {
    exitCode: 1,
    awsType: 'CertificateValidationException',
    httpStatus: 400,
  },
  CertificateConflict: { exitCode: 1, awsType: 'CertificateConflictException', httpStatus: 409 },
  RegistrationCodeValidation: {
    exitCode: 1,
    awsType: 'RegistrationCodeValidationException',
    httpStatus: 400,
  },
  MalformedPolicy: { exitCode: 2, awsType: 'MalformedPolicyException', httpStatus: 400 },
  VersionsLimitExceeded: {
    exitCode: 1,
    awsType: 'VersionsLimitExceededException',
    httpStatus: 409,
  },
  Conflict: { exitCode: 1, awsType: 'ConflictException', httpStatus: 409 },
  UnsupportedDocumentEncoding: {
    exitCode: 2,
    awsType: 'UnsupportedDocumentEncodingException',
    httpStatus: 415,
  },
};

export class BulwarkError extends Error {
  readonly code: ErrorCode;
  /** Non-secret facts about the failure (key id, state, table, …) for logs and API bodies. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'BulwarkError';
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return SHAPES[this.code].exitCode;
  }

  get awsType(): string {
    return SHAPES[this.code].awsType;
  }

  get httpStatus(): number {
    return SHAPES[this.code].httpStatus;
  }
}

export function isBulwarkError(error: unknown, code?: ErrorCode): error is BulwarkError {
  return error instanceof BulwarkError && (code === undefined || error.code === code);
}
