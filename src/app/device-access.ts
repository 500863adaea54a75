import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type {
  AccessControl,
  BrokerAction,
  ConnectionFacts,
  ConnectRequest,
  Principal,
} from '../broker/access.js';
import type { PeerVerdict } from '../broker/transports/tls.js';
import { ADMIN_USER_NAME } from '../iam/index.js';
import type { Logger } from '../logs/logger.js';
import type { DeviceCertificates } from '../pki/device-certificates.js';
import { certificateIdOf, issuedBy } from '../pki/x509.js';
import type { AuthorizationContext, CertificateFields, NameFields } from '../policy/context.js';
import type { PolicyDecisions } from '../policy/decisions.js';
import type { Registry } from '../registry/index.js';

/** The IoT policy the dev listener's clients act under (created at init; the operator may narrow it). */
export const DEV_LISTENER_POLICY = 'dev-listener';

const IOT_ACTION: Record<BrokerAction, string> = {
  connect: 'iot:Connect',
  publish: 'iot:Publish',
  retain: 'iot:RetainPublish',
  subscribe: 'iot:Subscribe',
  receive: 'iot:Receive',
};

/** Decisions remembered per connection, until any policy or attachment changes. */
const MAX_REMEMBERED_DECISIONS = 512;

/** What a connection's decisions are made from, worked out once at CONNECT. */
interface DeviceAuthorization {
  /** Whose attached policies apply: the certificate's ARN, its thing's groups and their ancestors. */
  targets: string[];
  /** Policies that apply by name instead (the dev listener, an operator-trusted CA). */
  policyNames: string[];
  /** An IAM user (MQTT over WSS signed with SigV4). */
  iamUserName?: string;
  caCertificateId?: string;
  context: AuthorizationContext;
  remembered: Map<string, boolean>;
  rememberedAt: number;
}

export interface DeviceAccessOptions {
  certificates: DeviceCertificates;
  registry: Registry;
  policies: PolicyDecisions;
  account: { region: string; accountId: string };
  /**
   * CAs from `mqtt.deviceCaFile`: their certificates need not be registered and act under
   * `trustedCaPolicy` (when unset, they are refused unless registered).
   */
  trustedCas: X509Certificate[];
  trustedCaPolicy: string | null;
  /** Publishes a broker event (just-in-time registration). */
  publishEvent(topic: string, payload: object): void;
  /** A certificate's ARN, as the pki names it. */
  certificateArn(certificateId: string): string;
  logger: Logger;
}

const NAME_KEYS: Record<string, keyof NameFields> = {
  CN: 'CommonName',
  C: 'Country',
  O: 'Organization',
  OU: 'OrganizationalUnit',
  ST: 'State',
  dnQualifier: 'DistinguishedNameQualifier',
  serialNumber: 'SerialNumber',
  title: 'Title',
  SN: 'Surname',
  GN: 'GivenName',
  initials: 'Initials',
  pseudonym: 'Pseudonym',
  generationQualifier: 'GenerationQualifier',
};

/** `CN=a\nO=b` (node:crypto's form) as AWS's field names, every value kept. */
function nameFields(distinguishedName: string): NameFields {
  const fields: Partial<Record<keyof NameFields, string[]>> = {};
  for (const line of distinguishedName.split('\n')) {
    const equals = line.indexOf('=');
    const key = NAME_KEYS[line.slice(0, equals)];
    if (equals < 0 || !key) continue;
    (fields[key] ??= []).push(line.slice(equals + 1));
  }
  return fields;
}

const ALTERNATIVE_NAME_KEYS = {
  DNS: 'DNSName',
  'IP Address': 'IPAddress',
  email: 'RFC822Name',
  URI: 'UniformResourceIdentifier',
  DirName: 'DirectoryName',
} as const;

function alternativeNameFields(subjectAltName: string | undefined) {
  const fields: Partial<Record<string, string[]>> = {};
  for (const entry of (subjectAltName ?? '').split(', ')) {
    const colon = entry.indexOf(':');
    const key = ALTERNATIVE_NAME_KEYS[entry.slice(0, colon) as keyof typeof ALTERNATIVE_NAME_KEYS];
    if (colon < 0 || !key) continue;
    (fields[key] ??= []).push(entry.slice(colon + 1));
  }
  return fields;
}

function certificateFields(certificate: X509Certificate): CertificateFields {
  return {
    subject: nameFields(certificate.subject),
    issuer: nameFields(certificate.issuer),
    subjectAlternativeName: alternativeNameFields(certificate.subjectAltName),
    issuerAlternativeName: {},
    serialNumber: certificate.serialNumber,
  };
}

function isValidNow(certificate: X509Certificate, now: number): boolean {
  return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
}

/**
 * Device identity and IoT policies for the broker: who a connection is (a registered, ACTIVE
 * certificate; an IAM user on a signed WebSocket URL; the dev listener's `dev`), and whether its
 * policies allow each connect, publish, subscribe and delivery. Decisions are remembered per
 * connection only until a policy or attachment changes, so a change governs the next packet.
 */
export class DeviceAccess implements AccessControl {
  private readonly options: DeviceAccessOptions;

  constructor(options: DeviceAccessOptions) {
    this.options = options;
  }

  private arn(resource: string): string {
    return `arn:aws:iot:${this.options.account.region}:${this.options.account.accountId}:${resource}`;
  }

  /**
   * The TLS listener's check: a certificate chaining to a CA it trusts (OpenSSL's verdict), one
   * issued by a CA registered since it started, or one registered without its CA, while valid.
   */
  verifyPeer = (socket: TLSSocket, certificate: X509Certificate | undefined): PeerVerdict => {
    if (!certificate) return { accepted: false, reason: 'NO_CLIENT_CERTIFICATE' };
    if (socket.authorized) return { accepted: true };
    const now = Date.now();
    const known =
      this.options.certificates.certificate(certificateIdOf(certificate)) !== undefined ||
      this.options.certificates.issuerOf(certificate) !== undefined;
    if (known && isValidNow(certificate, now)) return { accepted: true };
    if (known) return { accepted: false, reason: 'CERT_HAS_EXPIRED' };
    return { accepted: false, reason: String(socket.authorizationError ?? 'UNKNOWN') };
  };

  async authenticate(
    facts: ConnectionFacts,
    certificate: X509Certificate | undefined,
    connect: ConnectRequest,
  ): Promise<Principal | undefined> {
    const context: AuthorizationContext = {
      clientId: connect.clientId,
      sourceIp: facts.remoteAddress.replace(/^::ffff:/, ''),
      connectAttributes: [
        ...(connect.persistent ? ['PersistentConnect'] : []),
        ...(connect.willTopic !== undefined ? ['LastWill'] : []),
      ],
      ...(connect.willTopic !== undefined ? { lastWillTopic: connect.willTopic } : {}),
    };
    if (facts.listener === 'dev')
      return this.principal('dev', 'dev', { policyNames: [DEV_LISTENER_POLICY], context });
    if (facts.iam)
      return this.principal(facts.iam.arn, 'iam', { iamUserName: facts.iam.userName, context });
    if (!certificate) return undefined;
    return this.authenticateCertificate(certificate, connect, context);
  }

  private async authenticateCertificate(
    certificate: X509Certificate,
    connect: ConnectRequest,
    context: AuthorizationContext,
  ): Promise<Principal | undefined> {
    const { certificates, registry, logger } = this.options;
    const certificateId = certificateIdOf(certificate);
    const withCertificate = { ...context, certificate: certificateFields(certificate) };
    const known = certificates.certificate(certificateId);
    if (!known) {
      // Just-in-time registration: stored PENDING_ACTIVATION, announced, and refused for now.
      const event = await certificates.registerPendingActivation(certificate);
      if (event) {
        this.options.publishEvent(
          `$aws/events/certificates/registered/${event.caCertificateId}`,
          event,
        );
        logger.info({ certificateId }, 'certificate registered just in time, pending activation');
        return undefined;
      }
      const trusted = this.options.trustedCas.some((ca) => issuedBy(certificate, ca));
      if (!trusted || this.options.trustedCaPolicy === null) return undefined;
      return this.principal(certificateId, 'certificate', {
        policyNames: [this.options.trustedCaPolicy],
        context: withCertificate,
      });
    }
    if (!certificates.isActive(certificateId)) return undefined;
    const certificateArn = this.options.certificateArn(certificateId);
    const thing = registry.principals.thingForConnection(connect.clientId, certificateArn);
    const targets = [certificateArn];
    if (thing) {
      withCertificate.thing = {
        name: thing.thingName,
        ...(thing.thingTypeName !== undefined ? { typeName: thing.thingTypeName } : {}),
        attributes: thing.attributes,
      };
      targets.push(...(await this.groupArnsOf(thing.thingName)));
    }
    return this.principal(certificateId, 'certificate', {
      targets,
      ...(known.caCertificateId !== undefined ? { caCertificateId: known.caCertificateId } : {}),
      context: withCertificate,
    });
  }

  /** The ARNs of a thing's groups and of every ancestor of those (their policies apply too). */
  private async groupArnsOf(thingName: string): Promise<string[]> {
    const arns = new Set<string>();
    const { thingGroups } = this.options.registry;
    const direct = await thingGroups.groupsOfThing(thingName, { limit: 250 });
    for (const group of direct.items) {
      arns.add(group.groupArn);
      const description = await thingGroups.describe(group.groupName);
      for (const ancestor of description.thingGroupMetadata.rootToParentThingGroups)
        arns.add(ancestor.groupArn);
    }
    return [...arns];
  }

  private principal(
    id: string,
    kind: Principal['kind'],
    parts: Partial<DeviceAuthorization> & { context: AuthorizationContext },
  ): Principal {
    const authorization: DeviceAuthorization = {
      targets: [],
      policyNames: [],
      remembered: new Map(),
      rememberedAt: this.options.policies.changeCount,
      ...parts,
    };
    return { id, kind, authorization };
  }

  authorize(
    principal: Principal,
    action: BrokerAction,
    resource: string,
    clientId: string,
  ): boolean {
    const authorization = this.authorizationOf(principal, clientId);
    if (authorization.iamUserName !== undefined)
      // Until IAM policies exist, as on the HTTPS API: the administrator may, no one else.
      return authorization.iamUserName === ADMIN_USER_NAME;
    const { policies } = this.options;
    if (authorization.rememberedAt !== policies.changeCount) {
      authorization.remembered.clear();
      authorization.rememberedAt = policies.changeCount;
    }
    const key = `${action}\u0000${resource}`;
    const remembered = authorization.remembered.get(key);
    if (remembered !== undefined) return remembered;
    const resourceArn = this.arn(
      action === 'connect'
        ? `client/${resource}`
        : action === 'subscribe'
          ? `topicfilter/${resource}`
          : `topic/${resource}`,
    );
    const decision =
      authorization.policyNames.length > 0
        ? policies.decideByPolicyNames(
            authorization.policyNames,
            IOT_ACTION[action],
            resourceArn,
            authorization.context,
          )
        : policies.decide(
            authorization.targets,
            IOT_ACTION[action],
            resourceArn,
            authorization.context,
          );
    const allowed = decision === 'allow';
    if (authorization.remembered.size >= MAX_REMEMBERED_DECISIONS) authorization.remembered.clear();
    authorization.remembered.set(key, allowed);
    return allowed;
  }

  /**
   * A session restored after a restart carries only its principal's id until its client
   * connects again: its deliveries are judged by the certificate's own policies meanwhile.
   */
  private authorizationOf(principal: Principal, clientId: string): DeviceAuthorization {
    if (principal.authorization) return principal.authorization as DeviceAuthorization;
    const context: AuthorizationContext = { clientId };
    const restored =
      principal.kind === 'dev'
        ? { policyNames: [DEV_LISTENER_POLICY], context }
        : principal.kind === 'certificate'
          ? { targets: [this.options.certificateArn(principal.id)], context }
          : {
              iamUserName: principal.id.slice(principal.id.indexOf(':user/') + ':user/'.length),
              context,
            };
    const authorization = (this.principal(principal.id, principal.kind, restored).authorization ??
      {}) as DeviceAuthorization;
    principal.authorization = authorization;
    return authorization;
  }

  /** Whether a live connection acting as `principal` must go when `caCertificateId` leaves ACTIVE. */
  actsUnderCa(principal: Principal, caCertificateId: string): boolean {
    return (
      (principal.authorization as DeviceAuthorization | undefined)?.caCertificateId ===
      caCertificateId
    );
  }
}
