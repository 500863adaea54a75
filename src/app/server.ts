import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { AuditTrail } from '../audit/index.js';
import { DeviceSecurityEvents } from '../audit/device-events.js';
import { ApiMetrics, brokerMetrics, createMetricsRegistry } from '../api/metrics.js';
import { apiSecureContextOptions, createApiServer, type ApiServer } from '../api/server.js';
import { Broker, listenDev, listenTls, RetainedMessages, SessionStore } from '../broker/index.js';
import { MQTT_ALPN_PROTOCOL, shareHttpsPortWithMqtt } from '../broker/transports/alpn.js';
import { mqttSecureContextOptions } from '../broker/transports/tls.js';
import type { IamIdentity } from '../broker/access.js';
import { attachWss, type SignedUrlRefusal, type WssListener } from '../broker/transports/ws.js';
import type { Config } from '../config/index.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import { IamAuthorizer, sigV4Authenticator, type Authenticate } from '../iam/index.js';
import { AccessReports } from '../iam/access-report.js';
import { CREDENTIAL_USER_REFERENCES } from '../iam/credential-migrations.js';
import { createCredentialServices } from '../iam/credentials.js';
import { LastAccessedRecorder } from '../iam/last-accessed.js';
import { createIamQueryServices } from '../iam/query/index.js';
import { EncryptionConfiguration } from '../kms/encryption-configuration.js';
import type { Logger } from '../logs/logger.js';
import { Guard } from '../guard/index.js';
import { FieldGuard } from '../guard/field-guard.js';
import { PayloadGuard } from '../guard/payload-guard.js';
import { BackgroundScans, openScanService } from '../guard/scan/index.js';
import {
  DeviceLog,
  logDestination,
  registryThingGroups,
  rotatingFileSink,
  streamSink,
} from '../logs/index.js';
import { Pki } from '../pki/index.js';
import { Revocation } from '../pki/revocation/index.js';
import { serverCaPath } from '../pki/server-identity.js';
import { PolicyDecisions, PolicyService, registryDirectory } from '../policy/index.js';
import { Registry } from '../registry/index.js';
import { ShadowService, ShadowTopics } from '../shadow/index.js';
import {
  readCertificatePair,
  watchCertificatePair,
  type CertificateFiles,
  type CertificatePair,
} from '../tls/certificate-files.js';
import { tlsServerOptions } from '../tls/policies.js';
import { DeviceAccess } from './device-access.js';
import { initialiseDataDir, openDataDir, type OpenDataDir } from './data-dir.js';
import { loadMallocTrim, MemoryRelease } from './memory-release.js';
import { servedApi } from './served-api.js';

const KEY_DELETION_SWEEP_MS = 60 * 60 * 1000;

export interface RunningBulwark {
  ports: { mqtt: number; api: number; dev?: number };
  /** Stops accepting, disconnects clients (MQTT 5: server shutting down), drains, closes the store. */
  close(): Promise<void>;
}

function readDeviceCa(file: string): string[] {
  try {
    return [readFileSync(file, 'utf8')];
  } catch (error) {
    throw new BulwarkError(
      'ConfigInvalid',
      `invalid configuration: mqtt.deviceCaFile = ${JSON.stringify(file)}: cannot read it (${(error as Error).message})`,
    );
  }
}

/** The operator's own server certificate files, if configured (both or neither). */
function certificateFilesOf(config: Config): CertificateFiles | undefined {
  const { certificateFile, privateKeyFile } = config.tls;
  if (certificateFile === null && privateKeyFile === null) return undefined;
  if (certificateFile === null || privateKeyFile === null) {
    throw new BulwarkError(
      'ConfigInvalid',
      'invalid configuration: tls.certificateFile and tls.privateKeyFile go together: set both or neither',
    );
  }
  return { certificateFile, privateKeyFile };
}

function readOperatorCertificate(files: CertificateFiles): CertificatePair {
  try {
    return readCertificatePair(files);
  } catch (error) {
    throw new BulwarkError(
      'ConfigInvalid',
      `invalid configuration: tls.certificateFile / tls.privateKeyFile: ${(error as Error).message}`,
    );
  }
}

/**
 * MQTT over WSS with a SigV4-presigned URL (service `iotdevicegateway`, the data plane's names):
 * the IAM user who signed it, or AWS's error for a bad signature, unknown key or expired URL.
 */
async function verifySignedWebSocketUrl(
  authenticate: Authenticate,
  request: IncomingMessage,
): Promise<IamIdentity | SignedUrlRefusal> {
  try {
    const caller = await authenticate(
      {
        method: request.method ?? 'GET',
        rawUrl: request.url ?? '/',
        rawHeaders: request.rawHeaders,
        body: Buffer.alloc(0),
      },
      'data',
    );
    return {
      userName: caller.userName,
      arn: caller.arn,
      userId: caller.principalId,
      accessKeyId: caller.accessKeyId,
      ...(caller.mfaAuthenticatedAt !== undefined
        ? { mfaAuthenticatedAt: caller.mfaAuthenticatedAt }
        : {}),
    };
  } catch (error) {
    if (!isBulwarkError(error)) throw error;
    return { status: error.httpStatus, awsType: error.awsType, message: error.message };
  }
}

/** Every certificate in a PEM bundle. */
function certificatesOf(bundle: string): X509Certificate[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem),
  );
}

function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

/**
 * The thing registry, its events (when enabled) published by the broker as AWS does: QoS 1. The
 * principals attached to things are certificates `principalExists` knows.
 */
function registryOn(
  publishEvent: (topic: string, payload: Buffer) => void,
  dataDir: OpenDataDir,
  config: Config,
  logger: Logger,
  principalExists: (principal: string) => Promise<boolean>,
): Registry {
  return new Registry({
    store: dataDir.store,
    region: config.region,
    accountId: config.accountId,
    logger,
    principalExists,
    events: { publish: publishEvent },
  });
}

/**
 * Opens the data dir and every listener: the HTTPS API (with MQTT over WSS at `/mqtt`), MQTT over
 * TLS and, if asked, the dev listener.
 */
export async function startBulwark(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<RunningBulwark> {
  const deviceCaPems = config.mqtt.deviceCaFile
    ? readDeviceCa(config.mqtt.deviceCaFile)
    : undefined;
  const certificateFiles = certificateFilesOf(config);
  const operatorCertificate = certificateFiles && readOperatorCertificate(certificateFiles);
  const dataDir: OpenDataDir = await openDataDir(config, env, { create: true });
  const sweepKeys = () => {
    for (const receipt of dataDir.kms.destroyDueKeys())
      logger.warn({ receipt }, 'customer key destroyed at the end of its deletion waiting period');
  };
  let api: ApiServer | undefined;
  let broker: Broker | undefined;
  let mqtt: TlsServer | undefined;
  let dev: Server | undefined;
  let wss: WssListener | undefined;
  let stopWatchingCertificate: (() => void) | undefined;
  let revocation: Revocation | undefined;
  let deviceLog: DeviceLog | undefined;
  let audit: AuditTrail | undefined;
  let deviceEvents: DeviceSecurityEvents | undefined;
  let scans: BackgroundScans | undefined;
  let memoryRelease: MemoryRelease | undefined;
  const account = { region: config.region, accountId: config.accountId };
  // Sensitive-data detectors for free-form fields, redaction, scans and inline MQTT checks.
  const guard = new Guard(config.guard);
  // The inline check of published payloads (guard.inline); a bad rule stops start-up here.
  const payloadGuard = new PayloadGuard(config.guard.inline, guard);
  const encryption = new EncryptionConfiguration(dataDir.kms, dataDir.store, account, logger);
  // Last-accessed data for the access report, noted by the IAM authorizer on each allowed call.
  const lastAccessed = new LastAccessedRecorder({ store: dataDir.store, logger });
  const close = async () => {
    memoryRelease?.stop();
    stopWatchingCertificate?.();
    revocation?.close();
    const brokerClosed = broker?.close();
    await Promise.all([
      brokerClosed,
      closeServer(mqtt),
      closeServer(dev),
      wss?.close(),
      api?.close(),
      encryption.close(),
    ]);
    // Running scans stop after the page in hand, resumable by the next runner.
    await scans?.close();
    // After the API has stopped: the last calls' uses and events are written too.
    await lastAccessed.close();
    // The device security summaries still held go to the trail before it closes.
    await deviceEvents?.close();
    await audit?.close();
    await deviceLog?.close();
    await dataDir.close();
  };
  try {
    sweepKeys();
    const { identity, deviceCa, adminCredentialsFile } = await initialiseDataDir(dataDir, config);
    audit = await AuditTrail.open({
      store: dataDir.store,
      stream: config.audit.stream,
      account,
      logger,
      digestIntervalMs: config.audit.digestIntervalSeconds * 1000,
      retentionMs: config.audit.retentionDays * 86_400_000,
      ...(config.audit.witnessFile ? { witnessFile: config.audit.witnessFile } : {}),
      redaction: guard.redaction,
    });
    const served: CertificatePair = operatorCertificate ?? identity;
    const mqttPolicy = tlsServerOptions(config.tls.mqttPolicy ?? config.tls.policy);
    const apiPolicy = config.tls.apiPolicy ?? config.tls.policy;
    if (dataDir.created)
      logger.info(
        { dataDir: config.dataDir, serverCa: serverCaPath(config.dataDir) },
        'initialised a new data dir',
      );
    if (adminCredentialsFile)
      logger.info(
        { adminCredentials: adminCredentialsFile },
        'created the administrator IAM user admin; its access key is in this file (mode 0600): keep it safe, then delete the file',
      );
    // Messages the broker publishes for others (registry events, just-in-time registrations,
    // shadow responses), at QoS 1 as AWS does; a failure is logged, as no client waits on it.
    const publishFromBroker = async (topic: string, payload: Buffer): Promise<void> => {
      await broker
        ?.publish({ topic, payload, qos: 1, retain: false, properties: {} })
        .catch((error: unknown) =>
          logger.error({ err: error, topic }, 'message could not be published'),
        );
    };
    const publishEvent = (topic: string, payload: Buffer): void =>
      void publishFromBroker(topic, payload);
    // Device certificates and thing principals refer to each other: each asks the other's store
    // (only once requests arrive, when both exist).
    const registry = registryOn(publishEvent, dataDir, config, logger, (principal) =>
      pki.certificates.exists(principal),
    );
    const decisions = await PolicyDecisions.load(dataDir.store, logger);
    const pki = await Pki.open({
      store: dataDir.store,
      region: config.region,
      accountId: config.accountId,
      deviceCa,
      logger,
      hasAttachedThings: (certificateArn) => registry.principals.isAttached(certificateArn),
      hasAttachedPolicies: async (certificateArn) =>
        (await policies.targets.attachedTo([certificateArn])).length > 0,
    });
    await registry.principals.load();
    const policies = new PolicyService({
      store: dataDir.store,
      ...account,
      decisions,
      directory: registryDirectory(registry),
      logger,
    });
    // Operators' CAs with a CRL or an OCSP responder: checked at every handshake, fail closed.
    revocation = await Revocation.start({
      settings: config.mqtt.revocation,
      deviceCaPem: deviceCaPems?.[0],
      registeredCa: (caCertificateId) => pki.directory.ca(caCertificateId)?.certificate,
      logger,
    });
    // Console passwords, MFA devices (the MFA verifier) and console sign-in.
    const credentials = createCredentialServices(dataDir.store, config, logger);
    // IAM's users, groups, policies and sessions; the MFA verifier and other modules' references
    // to users (MFA devices, login profiles) plug in through createIamQueryServices' options.
    const iam = createIamQueryServices(dataDir.store, config.accountId, {
      mfaVerifier: credentials.mfaDevices,
      userReferences: CREDENTIAL_USER_REFERENCES,
    });
    const authenticate = sigV4Authenticator({
      users: iam.users,
      sessions: iam.sessions,
      account,
      logger,
    });
    const iamAuthorizer = new IamAuthorizer(iam, config.region, lastAccessed);
    // Refused connections, policy denials (summarised per minute) and cut-offs, in the trail.
    deviceEvents = new DeviceSecurityEvents({ sink: audit, logger, accountId: config.accountId });
    const access = new DeviceAccess({
      iam: iamAuthorizer,
      certificates: pki.directory,
      registry,
      policies: decisions,
      account,
      trustedCas: (deviceCaPems ?? []).flatMap(certificatesOf),
      trustedCaPolicy: config.mqtt.deviceCaPolicy,
      revocation,
      publishEvent: (topic, payload) => publishEvent(topic, Buffer.from(JSON.stringify(payload))),
      certificateArn: (certificateId) => pki.arns.certificate(certificateId),
      securityEvents: deviceEvents,
      logger,
    });
    // Discovery scans over stored device data: on request (StartScan), on schedule, and those
    // left unfinished by a runner that is gone.
    scans = new BackgroundScans({
      scans: openScanService({
        store: dataDir.store,
        arns: registry.arns,
        detectors: guard.detectors,
        pageSize: config.guard.scan.pageSize,
        logger,
        registry,
      }),
      logger,
      intervalHours: config.guard.scan.intervalHours,
    });
    const shadows = new ShadowService({
      store: dataDir.store,
      limits: config.shadow,
      publish: publishFromBroker,
      logger,
    });
    const metricsRegistry = createMetricsRegistry();
    // Device log entries (AWS IoT's v2 logging): on the operational log's stream, and a file if set.
    deviceLog = await DeviceLog.open({
      store: dataDir.store,
      accountId: config.accountId,
      configuredLevel: config.log.deviceLevel,
      sinks: [
        streamSink(logDestination(logger)),
        ...(config.log.file
          ? [
              rotatingFileSink({
                path: config.log.file,
                maxFileBytes: config.log.maxFileBytes,
                maxFiles: config.log.maxFiles,
                logger,
                redaction: guard.redaction,
              }),
            ]
          : []),
      ],
      thingGroups: registryThingGroups(registry),
      logger,
    });
    broker = new Broker({
      access,
      payloadGuard,
      payloadReports: access,
      observer: brokerMetrics(metricsRegistry, () => broker?.connectionCount ?? 0),
      events: deviceLog,
      limits: config.mqtt.limits,
      retained: await RetainedMessages.load(dataDir.store),
      sessionStore: new SessionStore(dataDir.store),
      services: [
        new ShadowTopics(shadows, publishFromBroker, config.shadow.maxInflightPerConnection),
      ],
      logger,
    });

    const liveBroker = broker;
    // DeleteCertificate with forceDelete leaves no policy attached to the certificate behind.
    pki.directory.onStatusChange((change) => {
      if (change.kind !== 'certificate' || change.status !== 'DELETED') return;
      const certificateArn = pki.arns.certificate(change.certificateId);
      void policies.targets
        .attachedTo([certificateArn])
        .then((names) =>
          Promise.all(names.map((name) => policies.targets.detach(name, certificateArn))),
        )
        .catch((error: unknown) =>
          logger.error(
            { err: error, certificateArn },
            'could not detach the policies of a deleted certificate',
          ),
        );
    });
    // Revocation that bites: a certificate or CA leaving ACTIVE cuts its live connections now.
    // Each certificate cut off is recorded in the audit trail (access.cutOff).
    pki.directory.onStatusChange((change) => {
      const closed =
        change.kind === 'certificate'
          ? access.cutOff(
              liveBroker,
              (principal) =>
                principal.kind === 'certificate' && principal.id === change.certificateId,
              `certificate ${change.status}`,
              { certificateStatus: change.status },
            )
          : access.cutOff(
              liveBroker,
              (principal) => access.actsUnderCa(principal, change.caCertificateId),
              `CA certificate ${change.status}`,
              { caCertificateId: change.caCertificateId, caCertificateStatus: change.status },
            );
      if (closed > 0)
        logger.info({ change, closed }, 'closed the connections of a certificate no longer ACTIVE');
    });
    // A CRL that newly lists a serial cuts the live connections of that certificate now too.
    revocation.onNewlyRevoked((revoked) => {
      const closed = access.cutOff(
        liveBroker,
        (principal) => {
          const certificate = access.certificateOf(principal);
          return certificate !== undefined && revoked.covers(certificate);
        },
        'certificate revoked by its CA',
        { crl: revoked.crl },
      );
      if (closed > 0)
        logger.info(
          { crl: revoked.crl, closed },
          'closed the connections of certificates a CRL revoked',
        );
    });
    const restored = await broker.restoreSessions();
    if (restored > 0) logger.info({ sessions: restored }, 'restored persistent MQTT sessions');
    // OpenSSL checks chains against these; the access control also accepts CAs registered later
    // and certificates registered without their CA.
    const mqttDeviceCas = [...(deviceCaPems ?? []), ...pki.directory.trustedCaPems()];
    mqtt = await listenTls(broker, {
      host: config.host,
      port: config.mqttPort,
      certificatePem: served.certificatePem,
      privateKeyPem: served.privateKeyPem,
      deviceCaPems: mqttDeviceCas,
      policyOptions: mqttPolicy,
      verifyPeer: access.verifyPeer,
      onRefused: access.peerRefused,
      logger,
    });
    if (config.devPort !== null) dev = await listenDev(broker, '127.0.0.1', config.devPort);
    const { operations, queryActions } = servedApi({
      config,
      encryption,
      registry,
      policies,
      pki,
      broker,
      shadows,
      deviceLog,
      iam,
      credentials,
      iamAuthorizer,
      scans,
      accessReports: new AccessReports({
        authorizer: iamAuthorizer,
        users: iam.users,
        arns: iam.arns,
        lastAccessed,
      }),
    });
    api = await createApiServer({
      identity: { ...identity, ...served },
      store: dataDir.store,
      logger,
      tlsPolicy: apiPolicy,
      operations,
      queryActions,
      account,
      authenticate,
      authorizer: iamAuthorizer,
      deviceAuthorizer: access,
      metrics: new ApiMetrics(metricsRegistry),
      metricsOpenOnLoopback: config.api.metricsOpenOnLoopback,
      consoleSignIn: credentials.consoleSignIn,
      audit,
      fieldGuard: new FieldGuard(guard),
      deviceCaPems: mqttDeviceCas,
      ...(config.mqtt.alpnOnApiPort ? { extraAlpnProtocols: [MQTT_ALPN_PROTOCOL] } : {}),
    });
    wss = attachWss(broker, api.server, {
      logger,
      verifySignedUrl: (request) => verifySignedWebSocketUrl(authenticate, request),
      verifyPeer: access.verifyPeer,
      onRefused: access.peerRefused,
    });
    if (config.mqtt.alpnOnApiPort)
      shareHttpsPortWithMqtt(broker, api.server, logger, access.verifyPeer, access.peerRefused);
    await api.listen({ host: config.host, port: config.apiPort });
    await encryption.resumePendingMove();
    await scans.start();
    const mallocTrim = loadMallocTrim();
    if (mallocTrim) {
      memoryRelease = new MemoryRelease({
        connectionsAccepted: () => liveBroker.connectionsAccepted,
        release: mallocTrim,
        logger,
      });
      memoryRelease.releaseNow('start-up');
    } else logger.debug('no malloc_trim on this platform: freed memory stays with the allocator');
    if (certificateFiles) {
      const mqttServer = mqtt;
      const apiServer = api.server;
      // New handshakes get the new certificate; connections already open keep theirs.
      stopWatchingCertificate = watchCertificatePair(
        certificateFiles,
        served,
        (pair) => {
          mqttServer.setSecureContext(mqttSecureContextOptions(pair, mqttDeviceCas, mqttPolicy));
          apiServer.setSecureContext(apiSecureContextOptions(pair, apiPolicy, mqttDeviceCas));
          logger.info(
            { certificateFile: certificateFiles.certificateFile },
            'server certificate reloaded',
          );
        },
        (error) =>
          logger.error(
            { err: error, certificateFile: certificateFiles.certificateFile },
            'server certificate files changed but cannot be used; still serving the previous certificate',
          ),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  const sweep = setInterval(sweepKeys, KEY_DELETION_SWEEP_MS);
  sweep.unref();
  return {
    ports: {
      mqtt: (mqtt.address() as AddressInfo).port,
      api: (api.server.address() as AddressInfo).port,
      ...(dev ? { dev: (dev.address() as AddressInfo).port } : {}),
    },
    close: async () => {
      clearInterval(sweep);
      await close();
    },
  };
}
