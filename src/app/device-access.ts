import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type {
  AuthenticatedDevice,
  DeviceAuthorizer,
  DeviceRequest,
} from '../api/device-authorizer.js';
import type { Caller } from '../api/operation.js';
import type {
  CertificateFacts,
  DeviceIdentity,
  DeviceOrigin,
  DeviceSecurityReports,
} from '../audit/device-events.js';
import type {
  AccessControl,
  BrokerAction,
  ConnectionFacts,
  ConnectRequest,
  IamIdentity,
  PayloadPublisher,
  Principal,
  SensitivePayloadReports,
} from '../broker/access.js';
import {
  connectionTlsOf,
  peerFacts,
  type PeerRefusal,
  type PeerVerdict,
} from '../broker/transports/tls.js';
import { IotArns } from '../api/iot-arns.js';
import type { IamAuthorizer, LoadedIamPolicy } from '../iam/authorize.js';
import type { PayloadVerdict } from '../guard/payload-guard.js';
import type { Logger } from '../logs/logger.js';
import type { DeviceCertificates } from '../pki/device-certificates.js';
import type { Revocation } from '../pki/revocation/index.js';
import { certificateIdOf, issuedBy } from '../pki/x509.js';
import type {
  AuthorizationContext,
  CertificateFields,
  ConnectedThing,
  NameFields,
} from '../policy/context.js';
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

/** A thing attached to a certificate, as the registry tells it. */
type AttachedThing = NonNullable<ReturnType<Registry['principals']['thingForConnection']>>;

/** How old an IAM user's policies may be before its MQTT connection reloads them. */
const IAM_POLICY_REFRESH_MS = 2000;

/** Decisions remembered per connection and action, until any policy or attachment changes. */
const MAX_REMEMBERED_DECISIONS = 512;
/** Certificates whose trusted-CA verdict is remembered (see DeviceAccess.issuedByTrustedCa). */
const MAX_TRUSTED_CA_VERDICTS = 10_000;

/** What a connection's decisions are made from, worked out once at CONNECT. */
interface DeviceAuthorization {
  /** Whose attached policies apply: the certificate's ARN, its thing's groups and their ancestors. */
  targets: string[];
  /** Policies that apply by name instead (the dev listener, an operator-trusted CA). */
  policyNames: string[];
  /**
   * An IAM user (MQTT over WSS signed with SigV4): who, and its IAM policies as last loaded (at
   * CONNECT, then again in the background every IAM_POLICY_REFRESH_MS while the connection is
   * used); none for a session restored after a restart, until its client connects again.
   */
  iam?: {
    identity: IamIdentity;
    policies: readonly LoadedIamPolicy[];
    loadedAt: number;
    reloading: boolean;
  };
  caCertificateId?: string;
  /** The client certificate, so a CRL that later lists it can find the connection. */
  certificate?: X509Certificate;
  /** Where the connection came from, for its audit events; none for a restored session. */
  origin?: DeviceOrigin;
  /** Who it is in its audit events, worked out at its first denial. */
  identity?: DeviceIdentity;
  context: AuthorizationContext;
  /**
   * By action, then resource (a topic or filter): two lookups instead of a key string built for
   * every message. Made at the first decision worth remembering: an idle connection has none.
   */
  remembered?: Map<BrokerAction, Map<string, boolean>>;
  rememberedAt: number;
}

export interface DeviceAccessOptions {
  /** IAM policy evaluation, for IAM users connecting over WSS. */
  iam: IamAuthorizer;
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
  /** CRLs and OCSP of operators' CAs, consulted after the chain is accepted (fail closed). */
  revocation?: Revocation;
  /** Publishes a broker event (just-in-time registration). */
  publishEvent(topic: string, payload: object): void;
  /** A certificate's ARN, as the pki names it. */
  certificateArn(certificateId: string): string;
  /** Refused connections, policy denials and cut-offs, for the audit trail. */
  securityEvents?: DeviceSecurityReports;
  logger: Logger;
}

/** Why a certificate that passed the handshake may still not connect. */
interface CertificateRefusal {
  refused: string;
  detail: string;
}

/** The broker's way of closing connections (Broker.disconnectWhere). */
export interface ConnectionCloser {
  disconnectWhere(test: (principal: Principal) => boolean, why: string): number;
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

/**
 * The authorization context of a certificate's connection. The certificate's policy variables
 * are read from it only when a policy asks for one, through a getter on this class: a getter in
 * an object literal closes over its own function, which gives every connection a hidden class
 * of its own (about 0.5 KB each, seen in heap snapshots of 1,000 idle connections).
 */
class CertificateContext implements AuthorizationContext {
  readonly clientId: string | undefined;
  readonly sourceIp: string | undefined;
  readonly connectAttributes: readonly string[] | undefined;
  readonly lastWillTopic: string | undefined;
  thing: ConnectedThing | undefined;
  readonly #source: X509Certificate;
  #fields: CertificateFields | undefined;

  constructor(context: AuthorizationContext, source: X509Certificate) {
    this.clientId = context.clientId;
    this.sourceIp = context.sourceIp;
    this.connectAttributes = context.connectAttributes;
    this.lastWillTopic = context.lastWillTopic;
    this.thing = context.thing;
    this.#source = source;
  }

  get certificate(): CertificateFields {
    return (this.#fields ??= certificateFields(this.#source));
  }
}

/** `iot:ConnectAttributes`, one list per combination, shared by the connections that have it. */
const CONNECT_ATTRIBUTES: readonly (readonly string[])[] = [
  [],
  ['PersistentConnect'],
  ['LastWill'],
  ['PersistentConnect', 'LastWill'],
].map((attributes) => Object.freeze(attributes));

function isValidNow(certificate: X509Certificate, now: number): boolean {
  return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
}

/** An IPv4 address without the `::ffff:` a dual-stack socket gives it. */
function plainIp(address: string): string {
  return address.replace(/^::ffff:/, '');
}

function originOf(facts: ConnectionFacts): DeviceOrigin {
  return {
    sourceIp: plainIp(facts.remoteAddress),
    listener: facts.listener,
    ...(facts.tls ? { tls: facts.tls } : {}),
  };
}

/** An HTTPS data-plane caller as a device identity in audit events. */
function callerIdentityOf(caller: Caller): DeviceIdentity {
  if (caller.type === 'Certificate')
    return { kind: 'certificate', principalId: caller.principalId, arn: caller.arn };
  return {
    kind: 'iam',
    principalId: caller.principalId,
    arn: caller.arn,
    userName: caller.userName,
    accessKeyId: caller.accessKeyId,
  };
}

function isRefusal(
  result: Principal | CertificateRefusal | undefined,
): result is CertificateRefusal {
  return result !== undefined && 'refused' in result;
}

/**
 * Device identity and IoT policies for the broker: who a connection is (a registered, ACTIVE
 * certificate; an IAM user on a signed WebSocket URL; the dev listener's `dev`), and whether its
 * policies allow each connect, publish, subscribe and delivery. Decisions are remembered per
 * connection only until a policy or attachment changes, so a change governs the next packet.
 */
export class DeviceAccess implements AccessControl, DeviceAuthorizer, SensitivePayloadReports {
  private readonly options: DeviceAccessOptions;

  constructor(options: DeviceAccessOptions) {
    this.options = options;
    this.arns = new IotArns(options.account.region, options.account.accountId);
  }

  private readonly arns: IotArns;
  /**
   * Whether the trusted CAs issued a certificate, by certificate id, as verified at its first
   * connect: the trusted CAs do not change while the process runs, and the id hashes the whole
   * certificate, signature included. A reconnecting device skips the signature check (a tenth of
   * the JavaScript work of a connect); cleared when full.
   */
  private readonly issuedByTrustedCa = new Map<string, boolean>();

  /**
   * Every listener's check (MQTT/TLS, WSS, ALPN, HTTPS callers): the chain, then the revocation
   * status its CA's CRL or OCSP responder gives, if the operator configured one.
   */
  verifyPeer = async (
    socket: TLSSocket,
    certificate: X509Certificate | undefined,
  ): Promise<PeerVerdict> => {
    const verdict = this.verifyChain(socket, certificate);
    if (!verdict.accepted || !certificate || !this.options.revocation) return verdict;
    const status = await this.options.revocation.statusOf(certificate);
    return status.good
      ? verdict
      : { accepted: false, reason: status.reason, detail: status.detail };
  };

  /**
   * A certificate chaining to a CA the listener trusts (OpenSSL's verdict), one issued by a CA
   * registered since it started, or one registered without its CA, while valid.
   */
  private verifyChain(socket: TLSSocket, certificate: X509Certificate | undefined): PeerVerdict {
    if (!certificate) return { accepted: false, reason: 'NO_CLIENT_CERTIFICATE' };
    if (socket.authorized) return { accepted: true };
    const now = Date.now();
    const known =
      this.options.certificates.certificate(certificateIdOf(certificate)) !== undefined ||
      this.options.certificates.issuerOf(certificate) !== undefined;
    if (known && isValidNow(certificate, now)) return { accepted: true };
    if (known)
      return {
        accepted: false,
        reason: now < Date.parse(certificate.validFrom) ? 'CERT_NOT_YET_VALID' : 'CERT_HAS_EXPIRED',
      };
    return { accepted: false, reason: String(socket.authorizationError ?? 'UNKNOWN') };
  }

  async authenticate(
    facts: ConnectionFacts,
    certificate: X509Certificate | undefined,
    connect: ConnectRequest,
  ): Promise<Principal | undefined> {
    const origin = originOf(facts);
    const context: AuthorizationContext = {
      clientId: connect.clientId,
      sourceIp: origin.sourceIp,
      connectAttributes:
        CONNECT_ATTRIBUTES[
          (connect.persistent ? 1 : 0) + (connect.willTopic !== undefined ? 2 : 0)
        ],
      ...(connect.willTopic !== undefined ? { lastWillTopic: connect.willTopic } : {}),
    };
    if (facts.listener === 'dev')
      return this.principal('dev', 'dev', {
        policyNames: [DEV_LISTENER_POLICY],
        origin,
        context,
      });
    if (facts.iam)
      return this.principal(facts.iam.arn, 'iam', {
        iam: {
          identity: facts.iam,
          policies: await this.options.iam.policiesOf(facts.iam.userName),
          loadedAt: Date.now(),
          reloading: false,
        },
        origin,
        context,
      });
    if (!certificate) return undefined;
    const result = await this.authenticateCertificate(certificate, context, (certificateArn) =>
      this.options.registry.principals.thingForConnection(connect.clientId, certificateArn),
    );
    if (!isRefusal(result)) {
      (result.authorization as DeviceAuthorization).origin = origin;
      return result;
    }
    this.options.securityEvents?.connectRefused({
      origin,
      stage: 'mqtt-connect',
      reason: result.refused,
      detail: result.detail,
      certificate: this.certificateFactsOf(certificate),
      clientId: connect.clientId,
    });
    return undefined;
  }

  /** A device's certificate refused on the HTTPS data plane, told to the audit trail. */
  private httpsRefused(
    request: DeviceRequest,
    certificate: X509Certificate,
    reason: string,
    detail: string | undefined,
  ): void {
    const tls = connectionTlsOf(request.socket);
    this.options.securityEvents?.connectRefused({
      origin: { sourceIp: plainIp(request.sourceIp), listener: 'https', ...(tls ? { tls } : {}) },
      stage: 'https-request',
      reason,
      ...(detail !== undefined ? { detail } : {}),
      certificate: this.certificateFactsOf(certificate),
    });
  }

  /**
   * A refusal at a listener (the handshake, the WebSocket upgrade), told to the audit trail with
   * the certificate named by its serial and SHA-256 fingerprint.
   */
  peerRefused = (refusal: PeerRefusal): void => {
    this.options.securityEvents?.connectRefused({
      origin: {
        sourceIp: plainIp(refusal.remoteAddress),
        listener: refusal.listener,
        ...(refusal.tls ? { tls: refusal.tls } : {}),
        ...(refusal.serverName !== undefined ? { serverName: refusal.serverName } : {}),
        ...(refusal.userAgent !== undefined ? { userAgent: refusal.userAgent } : {}),
      },
      stage: refusal.stage,
      reason: refusal.reason,
      ...(refusal.detail !== undefined ? { detail: refusal.detail } : {}),
      ...(refusal.certificate ? { certificate: this.certificateFactsOf(refusal.certificate) } : {}),
      ...(refusal.accessKeyId !== undefined ? { accessKeyId: refusal.accessKeyId } : {}),
    });
  };

  /** A client certificate as the audit trail names it: its id (fingerprint), serial, and ARN if registered. */
  private certificateFactsOf(certificate: X509Certificate): CertificateFacts {
    const certificateId = certificateIdOf(certificate);
    const registered = this.options.certificates.certificate(certificateId) !== undefined;
    return {
      certificateId,
      serialNumber: certificate.serialNumber,
      ...(registered ? { arn: this.options.certificateArn(certificateId) } : {}),
      subject: certificate.subject.replace(/\n/g, ', '),
      issuer: certificate.issuer.replace(/\n/g, ', '),
      validTo: certificate.validTo,
    };
  }

  /**
   * A device on the HTTPS data plane: its client certificate verified as the TLS listener does
   * and accepted as CONNECT accepts it; then its policies decide each call. The thing it acts
   * as is the one `x-amzn-iot-thingname` names, only when that thing is attached to it.
   */
  async authenticateDevice(request: DeviceRequest): Promise<AuthenticatedDevice | undefined> {
    const certificate = request.socket.getPeerX509Certificate();
    if (!certificate) return undefined;
    const verdict = await this.verifyPeer(request.socket, certificate);
    if (!verdict.accepted) {
      this.options.logger.info(
        {
          ...peerFacts(request.socket, certificate),
          reason: verdict.reason,
          detail: verdict.detail,
        },
        'HTTPS client certificate refused',
      );
      this.httpsRefused(request, certificate, verdict.reason, verdict.detail);
      return undefined;
    }
    const { thingName } = request;
    const principal = await this.authenticateCertificate(
      certificate,
      { sourceIp: plainIp(request.sourceIp) },
      (certificateArn) => {
        if (thingName === undefined) return undefined;
        // An exclusively attached thing is what MQTT would pick whatever the client id: here
        // it must be the one named.
        const thing = this.options.registry.principals.thingForConnection(
          thingName,
          certificateArn,
        );
        return thing?.thingName === thingName ? thing : undefined;
      },
    );
    if (isRefusal(principal)) {
      this.httpsRefused(request, certificate, principal.refused, principal.detail);
      return undefined;
    }
    const authorization = principal.authorization as DeviceAuthorization;
    const actsAs = authorization.context.thing?.name;
    return {
      caller: {
        type: 'Certificate',
        certificateId: principal.id,
        arn: this.options.certificateArn(principal.id),
        principalId: principal.id,
        ...(actsAs !== undefined ? { thingName: actsAs } : {}),
      },
      allows: (action, resource) => this.decide(authorization, action, resource),
    };
  }

  /** The certificate's principal, or why it may not connect. */
  private async authenticateCertificate(
    certificate: X509Certificate,
    context: AuthorizationContext,
    thingOf: (certificateArn: string) => AttachedThing | undefined,
  ): Promise<Principal | CertificateRefusal> {
    const { certificates, logger } = this.options;
    const certificateId = certificateIdOf(certificate);
    const withCertificate = new CertificateContext(context, certificate);
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
        return {
          refused: 'CERTIFICATE_PENDING_ACTIVATION',
          detail: 'registered just in time; it connects once an operator activates it',
        };
      }
      const trusted = this.trustedCaIssued(certificateId, certificate);
      if (!trusted || this.options.trustedCaPolicy === null)
        return {
          refused: 'CERTIFICATE_NOT_REGISTERED',
          detail: 'the certificate is not registered',
        };
      return this.principal(certificateId, 'certificate', {
        policyNames: [this.options.trustedCaPolicy],
        certificate,
        context: withCertificate,
      });
    }
    if (!certificates.isActive(certificateId)) {
      if (known.status !== 'ACTIVE')
        return {
          refused: `CERTIFICATE_${known.status}`,
          detail: `the certificate is ${known.status}`,
        };
      const caStatus =
        known.caCertificateId !== undefined
          ? (certificates.ca(known.caCertificateId)?.status ?? 'DELETED')
          : 'DELETED';
      return {
        refused: `CA_CERTIFICATE_${caStatus}`,
        detail: `the CA certificate ${known.caCertificateId ?? ''} that issued it is ${caStatus}`,
      };
    }
    const certificateArn = this.options.certificateArn(certificateId);
    const thing = thingOf(certificateArn);
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
      certificate,
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

  private trustedCaIssued(certificateId: string, certificate: X509Certificate): boolean {
    let issued = this.issuedByTrustedCa.get(certificateId);
    if (issued === undefined) {
      issued = this.options.trustedCas.some((ca) => issuedBy(certificate, ca));
      if (this.issuedByTrustedCa.size >= MAX_TRUSTED_CA_VERDICTS) this.issuedByTrustedCa.clear();
      this.issuedByTrustedCa.set(certificateId, issued);
    }
    return issued;
  }

  private principal(
    id: string,
    kind: Principal['kind'],
    parts: Partial<DeviceAuthorization> & { context: AuthorizationContext },
  ): Principal {
    const authorization: DeviceAuthorization = {
      targets: [],
      policyNames: [],
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
    if (authorization.iam) this.refreshIamPolicies(authorization);
    const { policies } = this.options;
    if (authorization.rememberedAt !== policies.changeCount) {
      authorization.remembered?.clear();
      authorization.rememberedAt = policies.changeCount;
    }
    const remembered = authorization.remembered?.get(action)?.get(resource);
    if (remembered !== undefined) {
      if (!remembered) this.reportDenial(principal, authorization, action, resource, clientId);
      return remembered;
    }
    const resourceArn =
      action === 'connect'
        ? this.arns.client(resource)
        : action === 'subscribe'
          ? this.arns.topicFilter(resource)
          : this.arns.topic(resource);
    const allowed = this.decide(authorization, IOT_ACTION[action], resourceArn);
    // A connection asks to connect once; its other decisions repeat with every message.
    if (action !== 'connect') {
      const byAction = (authorization.remembered ??= new Map());
      let decisions = byAction.get(action);
      if (!decisions) byAction.set(action, (decisions = new Map()));
      if (decisions.size >= MAX_REMEMBERED_DECISIONS) decisions.clear();
      decisions.set(resource, allowed);
    }
    if (!allowed) this.reportDenial(principal, authorization, action, resource, clientId);
    return allowed;
  }

  /** Every denial goes to the audit trail's summary (per client and minute). */
  private reportDenial(
    principal: Principal,
    authorization: DeviceAuthorization,
    action: BrokerAction,
    resource: string,
    clientId: string,
  ): void {
    const events = this.options.securityEvents;
    if (!events) return;
    authorization.identity ??= this.identityOf(principal, authorization);
    events.policyDenied({
      clientId,
      identity: authorization.identity,
      action,
      resource,
      ...(authorization.origin ? { origin: authorization.origin } : {}),
    });
  }

  /** A publish the payload guard flagged or refused, to the audit trail's per-minute summary. */
  sensitivePayload(publisher: PayloadPublisher, topic: string, verdict: PayloadVerdict): void {
    const events = this.options.securityEvents;
    if (!events) return;
    const found = { topic, action: verdict.action, detectors: verdict.detectors };
    if (publisher.via === 'https') {
      events.sensitivePayload({
        identity: callerIdentityOf(publisher.caller),
        origin: {
          sourceIp: plainIp(publisher.sourceIp),
          listener: 'https',
          userAgent: publisher.userAgent,
        },
        ...found,
      });
      return;
    }
    const { principal, clientId } = publisher;
    const authorization = this.authorizationOf(principal, clientId);
    authorization.identity ??= this.identityOf(principal, authorization);
    events.sensitivePayload({
      clientId,
      identity: authorization.identity,
      ...(authorization.origin ? { origin: authorization.origin } : {}),
      ...found,
    });
  }

  /** Who a principal is in audit events: its certificate (ARN when registered), IAM user, or `dev`. */
  private identityOf(principal: Principal, authorization: DeviceAuthorization): DeviceIdentity {
    if (principal.kind === 'iam') {
      const iam = authorization.iam?.identity;
      return iam
        ? {
            kind: 'iam',
            principalId: iam.userId,
            arn: iam.arn,
            userName: iam.userName,
            accessKeyId: iam.accessKeyId,
          }
        : { kind: 'iam', principalId: principal.id, arn: principal.id };
    }
    if (principal.kind === 'dev') return { kind: 'dev', principalId: principal.id };
    const registered = this.options.certificates.certificate(principal.id) !== undefined;
    return {
      kind: 'certificate',
      principalId: principal.id,
      ...(registered ? { arn: this.options.certificateArn(principal.id) } : {}),
    };
  }

  /**
   * Closes every live connection `test` picks, through the broker, and records one cut-off event
   * per certificate with how many of its connections were closed and why. Returns how many closed.
   */
  cutOff(
    broker: ConnectionCloser,
    test: (principal: Principal) => boolean,
    reason: string,
    trigger: Record<string, string>,
  ): number {
    const cut = new Map<
      string,
      { principal: Principal; connections: { clientId: string; origin?: DeviceOrigin }[] }
    >();
    const closed = broker.disconnectWhere((principal) => {
      if (!test(principal)) return false;
      const authorization = principal.authorization as DeviceAuthorization | undefined;
      let entry = cut.get(principal.id);
      if (!entry) {
        entry = { principal, connections: [] };
        cut.set(principal.id, entry);
      }
      entry.connections.push({
        clientId: authorization?.context.clientId ?? '',
        ...(authorization?.origin ? { origin: authorization.origin } : {}),
      });
      return true;
    }, reason);
    const events = this.options.securityEvents;
    if (events)
      for (const { principal, connections } of cut.values()) {
        const authorization = this.authorizationOf(principal, connections[0]?.clientId ?? '');
        const certificate = authorization.certificate;
        events.certificateCutOff({
          identity: this.identityOf(principal, authorization),
          ...(certificate ? { certificate: this.certificateFactsOf(certificate) } : {}),
          reason,
          trigger,
          connections,
        });
      }
    return closed;
  }

  /**
   * IAM policies live in the store, changed by the API, the CLI or another process alike: an IAM
   * user's connection reloads them in the background when they are older than
   * IAM_POLICY_REFRESH_MS, deciding with the ones it has meanwhile (authorize stays synchronous).
   */
  private refreshIamPolicies(authorization: DeviceAuthorization): void {
    const iam = authorization.iam;
    if (!iam || iam.reloading || Date.now() - iam.loadedAt < IAM_POLICY_REFRESH_MS) return;
    iam.reloading = true;
    this.options.iam
      .policiesOf(iam.identity.userName)
      .then((policies) => {
        iam.policies = policies;
        iam.loadedAt = Date.now();
        authorization.remembered?.clear();
      })
      .catch((error: unknown) =>
        this.options.logger.error(
          { err: error, userName: iam.identity.userName },
          'could not reload the IAM policies of an MQTT connection; deciding with the previous ones',
        ),
      )
      .finally(() => (iam.reloading = false));
  }

  /** The policies' decision on an IoT action (`iot:Publish`) on a resource ARN. */
  private decide(authorization: DeviceAuthorization, action: string, resourceArn: string): boolean {
    const { policies } = this.options;
    // An IAM user over WSS is judged by its IAM policies, as AWS does.
    if (authorization.iam)
      return (
        this.options.iam.decide(
          authorization.iam.policies,
          {
            arn: authorization.iam.identity.arn,
            principalId: authorization.iam.identity.userId,
            userName: authorization.iam.identity.userName,
            accessKeyId: authorization.iam.identity.accessKeyId,
            ...(authorization.iam.identity.mfaAuthenticatedAt !== undefined
              ? { mfaAuthenticatedAt: authorization.iam.identity.mfaAuthenticatedAt }
              : {}),
          },
          action,
          resourceArn,
          authorization.context.sourceIp !== undefined
            ? { sourceIp: authorization.context.sourceIp }
            : {},
        ).decision === 'allowed'
      );
    const decision =
      authorization.policyNames.length > 0
        ? policies.decideByPolicyNames(
            authorization.policyNames,
            action,
            resourceArn,
            authorization.context,
          )
        : policies.decide(authorization.targets, action, resourceArn, authorization.context);
    return decision === 'allow';
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
          : // An IAM user's session restored before its client reconnects: no policies yet,
            // so nothing is delivered to it until then (default deny).
            { context };
    const authorization = (this.principal(principal.id, principal.kind, restored).authorization ??
      {}) as DeviceAuthorization;
    principal.authorization = authorization;
    return authorization;
  }

  /** The client certificate a live connection authenticated with, if it did with one. */
  certificateOf(principal: Principal): X509Certificate | undefined {
    return (principal.authorization as DeviceAuthorization | undefined)?.certificate;
  }

  /** Whether a live connection acting as `principal` must go when `caCertificateId` leaves ACTIVE. */
  actsUnderCa(principal: Principal, caCertificateId: string): boolean {
    return (
      (principal.authorization as DeviceAuthorization | undefined)?.caCertificateId ===
      caCertificateId
    );
  }
}
