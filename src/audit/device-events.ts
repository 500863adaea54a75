/**
 * Device security events for the audit trail: connections refused for their credentials,
 * certificates cut off, IoT-policy denials, and publishes the payload guard flagged or refused
 * for sensitive data (`guard.inline`). AWS IoT keeps device traffic out of CloudTrail
 * (it logs it to CloudWatch Logs); Bulwark records these in its signed trail, as AWS
 * service events on the data plane (eventCategory `Data`, CloudTrail's category for operations
 * on or within a resource; AWS::IoT::Certificate is one of its data-event resource types).
 *
 * A device, or an attacker, can repeat a refused request as fast as the network allows, so
 * refusals, denials and guarded payloads are summarised: one event per (source IP, listener,
 * reason, certificate), per (client id, principal) and per (client id, principal, action),
 * covering at most one minute from its first occurrence, with a count, the first and last time
 * and a few sample topics; never a payload, nor what a detector found in it. A summary is
 * written when its minute is over (checked every few seconds) and at close. A cut-off is written
 * at once.
 */
import type { Logger } from '../logs/logger.js';
import {
  eventTimeOf,
  type AuditEvent,
  type AuditResource,
  type AuditSink,
  type TlsDetails,
  type UserIdentity,
} from './record.js';

export const IOT_EVENT_SOURCE = 'iot.amazonaws.com';

/** The events' names, for lookups (`LookupEvents` by EventName). */
export const DEVICE_EVENT_NAMES = {
  /** A TLS handshake, WebSocket upgrade or MQTT CONNECT refused for its credentials. */
  connectRefused: 'AuthenticationFailure',
  /** IoT policies refused a client's connect, publish, subscribe or receive. */
  policyDenied: 'AuthorizationFailure',
  /** The live connections of a certificate no longer ACTIVE (or newly on a CRL) were closed. */
  certificateCutOff: 'DisconnectCertificate',
  /** Publishes whose payload the payload guard's detectors matched: flagged or refused. */
  sensitivePayload: 'SensitiveDataInPayload',
} as const;

/** CloudTrail's resource type of an IoT certificate. */
const CERTIFICATE_RESOURCE_TYPE = 'AWS::IoT::Certificate';

/** Who a device is, as far as the broker knows it. */
export interface DeviceIdentity {
  kind: 'certificate' | 'iam' | 'dev';
  /** The certificate id (SHA-256 of its DER), the IAM user's id, or `dev`. */
  principalId: string;
  /** The certificate's ARN when it is registered; the IAM user's ARN. */
  arn?: string;
  userName?: string;
  accessKeyId?: string;
}

/** Where a device came from. */
export interface DeviceOrigin {
  /** Without the `::ffff:` of an IPv4 address on a dual-stack socket. */
  sourceIp: string;
  /** `tls` (MQTT over TLS), `alpn` (MQTT on the HTTPS port), `wss`, `dev`. */
  listener: string;
  tls?: TlsDetails;
  /** The SNI name when there is no TLS session to carry it (a handshake that failed). */
  serverName?: string;
  userAgent?: string;
}

/** A client certificate, named as an auditor looks it up. */
export interface CertificateFacts {
  /** SHA-256 of the DER, hex: also its SHA-256 fingerprint. */
  certificateId: string;
  serialNumber: string;
  /** Its ARN when it is registered. */
  arn?: string;
  subject?: string;
  issuer?: string;
  /** As node:crypto gives it. */
  validTo?: string;
}

export interface ConnectRefusal {
  origin: DeviceOrigin;
  stage: 'tls-handshake' | 'websocket-upgrade' | 'mqtt-connect' | 'https-request';
  /** OpenSSL's verify-error name, Bulwark's own (`CERTIFICATE_REVOKED`, …) or AWS's error name. */
  reason: string;
  detail?: string;
  certificate?: CertificateFacts;
  /** The MQTT client id, once the CONNECT was read. */
  clientId?: string;
  /** The access key of a refused signed URL. */
  accessKeyId?: string;
}

export type DeniedAction = 'connect' | 'publish' | 'retain' | 'subscribe' | 'receive';

export interface PolicyDenial {
  clientId: string;
  identity: DeviceIdentity;
  action: DeniedAction;
  /** The client id (connect), topic or topic filter. */
  resource: string;
  /** None for a delivery to a session whose client is not connected. */
  origin?: DeviceOrigin;
}

export interface CertificateCutOff {
  identity: DeviceIdentity;
  certificate?: CertificateFacts;
  /** Why: `certificate REVOKED`, `CA certificate INACTIVE`, `certificate revoked by its CA`. */
  reason: string;
  /** What changed: the certificate's or CA's new status, or the CRL that listed it. */
  trigger: Record<string, string>;
  connections: { clientId: string; origin?: DeviceOrigin }[];
}

/** A publish whose payload the payload guard's detectors matched. */
export interface SensitivePayload {
  /** The MQTT client id; none for a publish over the HTTPS data plane. */
  clientId?: string;
  identity: DeviceIdentity;
  origin?: DeviceOrigin;
  /** `flag`: delivered; `refuse`: not delivered (MQTT 5 PUBACK 0x99, HTTP 400). */
  action: 'flag' | 'refuse';
  /** The ids of the detectors that matched; never what they matched. */
  detectors: readonly string[];
  topic: string;
}

/** What the broker's edges tell; the summariser below is the implementation. */
export interface DeviceSecurityReports {
  /** Called per refusal: cheap, never throws. */
  connectRefused(refusal: ConnectRefusal): void;
  /** Called per denied packet or delivery: cheap, never throws. */
  policyDenied(denial: PolicyDenial): void;
  certificateCutOff(cutOff: CertificateCutOff): void;
  /** Called per flagged or refused publish: cheap, never throws. */
  sensitivePayload(report: SensitivePayload): void;
}

export interface DeviceSecurityEventsOptions {
  sink: AuditSink;
  logger: Logger;
  accountId: string;
  /** How long one summary covers at most (default one minute). */
  windowMs?: number;
  /** How often finished summaries are looked for (default 5 s). */
  checkEveryMs?: number;
  /** Summaries held at most; past it, every one is written at once (default 10,000). */
  maxSummaries?: number;
  now?: () => number;
}

/** Sample topics kept per action, and sample client ids / server names per refusal summary. */
const MAX_SAMPLES = 5;
/** Connections listed in a cut-off event (the count is always exact). */
const MAX_LISTED_CONNECTIONS = 50;
/** A sampled topic, client id or server name is cut to this length. */
const MAX_SAMPLE_CHARS = 256;

const IOT_ACTIONS: Record<DeniedAction, string> = {
  connect: 'iot:Connect',
  publish: 'iot:Publish',
  retain: 'iot:RetainPublish',
  subscribe: 'iot:Subscribe',
  receive: 'iot:Receive',
};

const LISTENER_AGENTS: Record<string, string> = {
  tls: 'MQTT over TLS',
  alpn: 'MQTT over TLS (ALPN x-amzn-mqtt-ca)',
  wss: 'MQTT over WebSocket',
  dev: 'MQTT (development listener)',
  https: 'HTTPS data plane',
};

const STAGE_TEXT: Record<ConnectRefusal['stage'], string> = {
  'tls-handshake': 'TLS handshake',
  'websocket-upgrade': 'WebSocket upgrade',
  'mqtt-connect': 'MQTT CONNECT',
  'https-request': 'HTTPS data-plane request',
};

interface Window {
  first: number;
  last: number;
  count: number;
}

interface RefusalSummary extends Window {
  refusal: ConnectRefusal;
  clientIds: Set<string>;
  serverNames: Set<string>;
}

interface DenialSummary extends Window {
  denial: PolicyDenial;
  actions: Map<DeniedAction, { count: number; resources: Set<string> }>;
}

interface PayloadSummary extends Window {
  report: SensitivePayload;
  /** Publishes each detector matched in. */
  detectors: Map<string, number>;
  topics: Set<string>;
}

type Summary = RefusalSummary | DenialSummary | PayloadSummary;

function addSample(samples: Set<string>, value: string | undefined): void {
  if (value === undefined || samples.size >= MAX_SAMPLES) return;
  samples.add(value.length > MAX_SAMPLE_CHARS ? value.slice(0, MAX_SAMPLE_CHARS) : value);
}

function serverNameOf(origin: DeviceOrigin): string | undefined {
  return origin.tls?.clientProvidedServerName ?? origin.serverName;
}

function userAgentOf(origin: DeviceOrigin | undefined): string {
  if (!origin) return 'bulwark-broker';
  return origin.userAgent ?? LISTENER_AGENTS[origin.listener] ?? `MQTT (${origin.listener})`;
}

/**
 * What every device security event shares: its source and kind, where the device came from
 * (none: the broker itself), and the certificate it concerns as its resource.
 */
function deviceEventFrame(
  eventName: string,
  origin: DeviceOrigin | undefined,
  certificateArn: string | undefined,
  accountId: string,
) {
  const resources: AuditResource[] | undefined =
    certificateArn !== undefined
      ? [{ ARN: certificateArn, type: CERTIFICATE_RESOURCE_TYPE, accountId }]
      : undefined;
  return {
    eventSource: IOT_EVENT_SOURCE,
    eventName,
    eventType: 'AwsServiceEvent' as const,
    eventCategory: 'Data' as const,
    readOnly: false,
    sourceIPAddress: origin?.sourceIp ?? IOT_EVENT_SOURCE,
    userAgent: userAgentOf(origin),
    ...(resources ? { resources } : {}),
    ...(origin?.tls ? { tlsDetails: origin.tls } : {}),
  };
}

function certificateData(certificate: CertificateFacts): Record<string, string> {
  return {
    certificateId: certificate.certificateId,
    serialNumber: certificate.serialNumber,
    fingerprintSha256: certificate.certificateId,
    ...(certificate.subject !== undefined ? { subject: certificate.subject } : {}),
    ...(certificate.issuer !== undefined ? { issuer: certificate.issuer } : {}),
    ...(certificate.validTo !== undefined ? { validTo: certificate.validTo } : {}),
  };
}

/** A device's userIdentity: CloudTrail's `Unknown` for a certificate (no IAM principal), else the IAM user. */
function userIdentityOf(identity: DeviceIdentity, accountId: string): UserIdentity {
  if (identity.kind === 'iam')
    return {
      type: 'IAMUser',
      principalId: identity.principalId,
      ...(identity.arn !== undefined ? { arn: identity.arn } : {}),
      accountId,
      ...(identity.userName !== undefined ? { userName: identity.userName } : {}),
      ...(identity.accessKeyId !== undefined ? { accessKeyId: identity.accessKeyId } : {}),
    };
  return {
    type: 'Unknown',
    principalId: identity.principalId,
    ...(identity.arn !== undefined ? { arn: identity.arn } : {}),
    accountId,
  };
}

/**
 * Summarises refusals and denials into audit events and writes cut-offs, as described above.
 * Writing is not awaited by the broker: a write that fails is logged at ERROR.
 */
export class DeviceSecurityEvents implements DeviceSecurityReports {
  private readonly options: DeviceSecurityEventsOptions;
  private readonly windowMs: number;
  private readonly maxSummaries: number;
  private readonly now: () => number;
  private readonly refusals = new Map<string, RefusalSummary>();
  private readonly denials = new Map<string, DenialSummary>();
  private readonly payloads = new Map<string, PayloadSummary>();
  private readonly writing = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(options: DeviceSecurityEventsOptions) {
    this.options = options;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxSummaries = options.maxSummaries ?? 10_000;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.writeFinished(), options.checkEveryMs ?? 5000);
    this.timer.unref();
  }

  connectRefused(refusal: ConnectRefusal): void {
    if (this.closed) return;
    const time = this.now();
    const key = [
      refusal.origin.sourceIp,
      refusal.origin.listener,
      refusal.stage,
      refusal.reason,
      refusal.certificate?.certificateId ?? refusal.accessKeyId ?? '',
    ].join('\u0000');
    const summary = this.counted(this.refusals, key, time, () => ({
      refusal,
      clientIds: new Set<string>(),
      serverNames: new Set<string>(),
    }));
    addSample(summary.clientIds, refusal.clientId);
    addSample(summary.serverNames, serverNameOf(refusal.origin));
  }

  policyDenied(denial: PolicyDenial): void {
    if (this.closed) return;
    const time = this.now();
    const key = `${denial.clientId}\u0000${denial.identity.principalId}`;
    const summary = this.counted(this.denials, key, time, () => ({
      denial,
      actions: new Map<DeniedAction, { count: number; resources: Set<string> }>(),
    }));
    // The latest connection's origin: a client that reconnected within the minute is named by it.
    if (denial.origin) summary.denial = denial;
    let action = summary.actions.get(denial.action);
    if (!action) {
      action = { count: 0, resources: new Set() };
      summary.actions.set(denial.action, action);
    }
    action.count += 1;
    addSample(action.resources, denial.resource);
  }

  sensitivePayload(report: SensitivePayload): void {
    if (this.closed) return;
    const time = this.now();
    const key = [report.clientId ?? '', report.identity.principalId, report.action].join('\u0000');
    const summary = this.counted(this.payloads, key, time, () => ({
      report,
      detectors: new Map<string, number>(),
      topics: new Set<string>(),
    }));
    if (report.origin) summary.report = report;
    for (const id of report.detectors)
      summary.detectors.set(id, (summary.detectors.get(id) ?? 0) + 1);
    addSample(summary.topics, report.topic);
  }

  certificateCutOff(cutOff: CertificateCutOff): void {
    if (this.closed) return;
    const { accountId } = this.options;
    const first = cutOff.connections[0];
    const arn = cutOff.identity.arn ?? cutOff.certificate?.arn;
    this.write(
      {
        ...deviceEventFrame(DEVICE_EVENT_NAMES.certificateCutOff, first?.origin, arn, accountId),
        userIdentity: userIdentityOf(cutOff.identity, accountId),
        requestParameters: { certificateId: cutOff.identity.principalId },
        additionalEventData: {
          reason: cutOff.reason,
          ...cutOff.trigger,
          // AWS IoT's disconnectReason for a client whose authorization was withdrawn.
          disconnectReason: 'AUTH_ERROR',
          connectionsClosed: cutOff.connections.length,
          connections: cutOff.connections.slice(0, MAX_LISTED_CONNECTIONS).map((connection) => ({
            clientId: connection.clientId,
            ...(connection.origin
              ? { sourceIp: connection.origin.sourceIp, listener: connection.origin.listener }
              : {}),
          })),
          ...(cutOff.certificate ? { certificate: certificateData(cutOff.certificate) } : {}),
        },
      },
      {
        certificateId: cutOff.identity.principalId,
        reason: cutOff.reason,
        connectionsClosed: cutOff.connections.length,
      },
      'certificate cut off: its live connections were closed',
    );
  }

  /** Writes the summaries whose window is over. */
  private writeFinished(): void {
    const due = this.now() - this.windowMs;
    const maps: Map<string, Summary>[] = [this.refusals, this.denials, this.payloads];
    for (const summaries of maps)
      for (const [key, summary] of summaries)
        if (summary.first <= due) {
          summaries.delete(key);
          this.writeSummary(summary);
        }
  }

  /**
   * The summary under `key`, begun when there is none (writing every summary of its kind first
   * when there are already `maxSummaries`), with this occurrence counted.
   */
  private counted<S extends Summary>(
    summaries: Map<string, S>,
    key: string,
    time: number,
    begin: () => Omit<S, keyof Window>,
  ): S {
    let summary = summaries.get(key);
    if (!summary) {
      if (summaries.size >= this.maxSummaries) this.writeAll(summaries);
      summary = { first: time, last: time, count: 0, ...begin() } as S;
      summaries.set(key, summary);
    }
    summary.count += 1;
    summary.last = time;
    return summary;
  }

  private writeAll(summaries: Map<string, Summary>): void {
    for (const summary of summaries.values()) this.writeSummary(summary);
    summaries.clear();
  }

  private writeSummary(summary: Summary): void {
    if ('refusal' in summary) this.writeRefusal(summary);
    else if ('denial' in summary) this.writeDenial(summary);
    else this.writePayloads(summary);
  }

  private writeRefusal(summary: RefusalSummary): void {
    const { accountId } = this.options;
    const { refusal, count } = summary;
    const { origin, certificate } = refusal;
    const message =
      `${STAGE_TEXT[refusal.stage]} refused: ${refusal.reason}` +
      (refusal.detail !== undefined ? ` (${refusal.detail})` : '');
    this.write(
      {
        ...deviceEventFrame(DEVICE_EVENT_NAMES.connectRefused, origin, certificate?.arn, accountId),
        userIdentity: {
          type: 'Unknown',
          ...(certificate ? { principalId: certificate.certificateId } : {}),
          ...(certificate?.arn !== undefined ? { arn: certificate.arn } : {}),
          accountId,
          ...(refusal.accessKeyId !== undefined ? { accessKeyId: refusal.accessKeyId } : {}),
        },
        errorCode: refusal.reason,
        errorMessage: message,
        requestParameters: refusal.clientId !== undefined ? { clientId: refusal.clientId } : null,
        additionalEventData: {
          listener: origin.listener,
          stage: refusal.stage,
          reason: refusal.reason,
          ...(refusal.detail !== undefined ? { detail: refusal.detail } : {}),
          count,
          firstTime: new Date(summary.first).toISOString(),
          lastTime: new Date(summary.last).toISOString(),
          sourceIp: origin.sourceIp,
          ...(summary.serverNames.size > 0 ? { serverNames: [...summary.serverNames] } : {}),
          ...(summary.clientIds.size > 0 ? { clientIds: [...summary.clientIds] } : {}),
          ...(certificate ? { certificate: certificateData(certificate) } : {}),
          ...(refusal.accessKeyId !== undefined ? { accessKeyId: refusal.accessKeyId } : {}),
        },
      },
      {
        sourceIp: origin.sourceIp,
        listener: origin.listener,
        stage: refusal.stage,
        reason: refusal.reason,
        count,
        from: eventTimeOf(summary.first),
        ...(certificate
          ? { serialNumber: certificate.serialNumber, fingerprint256: certificate.certificateId }
          : {}),
      },
      'device connections refused for their credentials',
    );
  }

  private writeDenial(summary: DenialSummary): void {
    const { accountId } = this.options;
    const { denial, count } = summary;
    const { origin, identity } = denial;
    const actions = Object.fromEntries(
      [...summary.actions].map(([action, { count: actionCount, resources }]) => [
        IOT_ACTIONS[action],
        { count: actionCount, resources: [...resources] },
      ]),
    );
    const arn = identity.kind === 'certificate' ? identity.arn : undefined;
    this.write(
      {
        ...deviceEventFrame(DEVICE_EVENT_NAMES.policyDenied, origin, arn, accountId),
        userIdentity: userIdentityOf(identity, accountId),
        // AWS IoT's reason for a policy denial in its device logs.
        errorCode: 'AUTHORIZATION_FAILURE',
        errorMessage: `IoT policies denied ${count} request${count === 1 ? '' : 's'} of client ${denial.clientId}`,
        requestParameters: { clientId: denial.clientId },
        additionalEventData: {
          clientId: denial.clientId,
          count,
          firstTime: new Date(summary.first).toISOString(),
          lastTime: new Date(summary.last).toISOString(),
          actions,
          ...(origin ? { listener: origin.listener, sourceIp: origin.sourceIp } : {}),
        },
      },
      {
        clientId: denial.clientId,
        principal: identity.principalId,
        count,
        actions: Object.fromEntries(
          [...summary.actions].map(([action, value]) => [action, value.count]),
        ),
        from: eventTimeOf(summary.first),
      },
      'device requests denied by policy',
    );
  }

  private writePayloads(summary: PayloadSummary): void {
    const { accountId } = this.options;
    const { report, count } = summary;
    const { origin, identity, clientId } = report;
    const refused = report.action === 'refuse';
    const publishes = `${count} publish${count === 1 ? '' : 'es'}`;
    const by = clientId !== undefined ? `client ${clientId}` : `principal ${identity.principalId}`;
    const detectors = Object.fromEntries(summary.detectors);
    const arn = identity.kind === 'certificate' ? identity.arn : undefined;
    this.write(
      {
        ...deviceEventFrame(DEVICE_EVENT_NAMES.sensitivePayload, origin, arn, accountId),
        userIdentity: userIdentityOf(identity, accountId),
        // A flagged publish was delivered: no error.
        ...(refused
          ? {
              errorCode: 'SENSITIVE_DATA_IN_PAYLOAD',
              errorMessage: `The payload guard refused ${publishes} of ${by}: sensitive data (${Object.keys(detectors).join(', ')})`,
            }
          : {}),
        requestParameters: clientId !== undefined ? { clientId } : null,
        additionalEventData: {
          ...(clientId !== undefined ? { clientId } : {}),
          action: report.action,
          count,
          firstTime: new Date(summary.first).toISOString(),
          lastTime: new Date(summary.last).toISOString(),
          detectors,
          topics: [...summary.topics],
          ...(origin ? { listener: origin.listener, sourceIp: origin.sourceIp } : {}),
        },
      },
      {
        ...(clientId !== undefined ? { clientId } : {}),
        principal: identity.principalId,
        action: report.action,
        count,
        detectors,
        from: eventTimeOf(summary.first),
      },
      refused
        ? 'publishes refused: sensitive data in their payload'
        : 'publishes flagged: sensitive data in their payload',
    );
  }

  /** Records an event (and logs it at WARN); a failed write is logged, never thrown. */
  private write(event: AuditEvent, logged: Record<string, unknown>, message: string): void {
    this.options.logger.warn(logged, message);
    const writing = this.options.sink
      .record(event)
      .catch((error: unknown) =>
        this.options.logger.error(
          { err: error, eventName: event.eventName, ...logged },
          'a device security event could not be written to the audit trail',
        ),
      );
    this.writing.add(writing);
    void writing.finally(() => this.writing.delete(writing));
  }

  /** Writes every summary now, finished or not, and waits for every write. */
  async flush(): Promise<void> {
    this.writeAll(this.refusals);
    this.writeAll(this.denials);
    this.writeAll(this.payloads);
    while (this.writing.size > 0) await Promise.all([...this.writing]);
  }

  /** Writes what is held and stops; later reports are ignored. Call before the trail closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }
}
