import { LOOKUP_EVENTS_ACTION } from '../api/cloudtrail.js';
import { endpointOperations } from '../api/endpoint.js';
import type { Operation } from '../api/operation.js';
import { GET_METRICS_ACTION } from '../api/server.js';
import type { Broker } from '../broker/index.js';
import { brokerOperations } from '../broker/operations.js';
import type { Config } from '../config/index.js';
import { scanOperations, type BackgroundScans } from '../guard/scan/index.js';
import { accessReportActions } from '../iam/access-report-action.js';
import type { AccessReports } from '../iam/access-report.js';
import { actionCatalogue, type CataloguedAction } from '../iam/action-catalogue.js';
import type { IamAuthorizer } from '../iam/authorize.js';
import type { CredentialServices } from '../iam/credentials.js';
import { iamQueryActions, type IamQueryServices, type QueryAction } from '../iam/query/index.js';
import { loginProfileActions } from '../iam/query/login-profile-actions.js';
import { mfaActions } from '../iam/query/mfa-actions.js';
import { simulateActions } from '../iam/query/simulate-actions.js';
import {
  type EncryptionConfiguration,
  encryptionConfigurationOperations,
} from '../kms/encryption-configuration.js';
import { loggingOperations, type DeviceLog } from '../logs/index.js';
import { pkiOperations, type Pki } from '../pki/index.js';
import { IOT_ACTIONS } from '../policy/evaluate.js';
import { policyOperations, type PolicyService } from '../policy/index.js';
import { registryOperations, type Registry } from '../registry/index.js';
import { shadowOperations, type ShadowService } from '../shadow/index.js';

/**
 * Everything the API port serves, assembled in one place so that the server mounts it and the
 * access report's action catalogue reads it from the same definitions.
 */

/** The services behind the served operations and Query actions. */
export interface ServedServices {
  config: Pick<Config, 'hostNames'>;
  encryption: EncryptionConfiguration;
  registry: Registry;
  policies: PolicyService;
  pki: Pki;
  broker: Broker;
  shadows: ShadowService;
  deviceLog: DeviceLog;
  iam: IamQueryServices;
  credentials: Pick<CredentialServices, 'mfaDevices' | 'loginProfiles'>;
  iamAuthorizer: IamAuthorizer;
  accessReports: AccessReports;
  /** Discovery scans over stored device data, and their findings. */
  scans: BackgroundScans;
}

export interface ServedApi {
  /** Every AWS operation served; each capability contributes its own. */
  operations: Operation[];
  /** Every IAM and STS action served over the Query protocol. */
  queryActions: QueryAction[];
  /** Every IAM action the server authorizes, read from the two lists above and the rest. */
  catalogue: CataloguedAction[];
}

export function servedApi(services: ServedServices): ServedApi {
  const { iam, credentials } = services;
  const operations: Operation[] = [
    ...endpointOperations(services.config),
    ...encryptionConfigurationOperations(services.encryption),
    ...registryOperations(services.registry),
    ...policyOperations(services.policies),
    ...pkiOperations(services.pki),
    ...brokerOperations(services.broker),
    ...shadowOperations(services.shadows),
    ...loggingOperations(services.deviceLog),
    ...scanOperations(services.scans),
  ];
  const queryActions: QueryAction[] = [
    ...iamQueryActions(iam),
    ...mfaActions(credentials.mfaDevices),
    ...loginProfileActions(credentials.loginProfiles),
    ...simulateActions(services.iamAuthorizer, iam.users, iam.arns),
    // The report knows every action served here, its own included.
    ...accessReportActions(services.accessReports, () => catalogue),
  ];
  const catalogue = actionCatalogue({
    operations,
    queryActions,
    // CloudTrail's LookupEvents at `/` (JSON 1.1), which reads the audit trail.
    jsonActions: [LOOKUP_EVENTS_ACTION],
    metricsAction: GET_METRICS_ACTION,
    mqttActions: Object.values(IOT_ACTIONS),
  });
  return { operations, queryActions, catalogue };
}

/**
 * A stand-in for a service nobody calls: every property is the stand-in again, and calling it
 * throws. The factories above only close over their services when they define operations, so
 * the catalogue can be read without a running server; a factory that starts calling its service
 * at definition time fails the catalogue test instead of yielding a wrong list.
 */
function notCalled<T>(): T {
  const standIn: object = new Proxy(() => undefined, {
    // Not thenable, so an accidental await does not hang.
    get: (_target, property) => (property === 'then' ? undefined : standIn),
    apply: () => {
      throw new Error('internal: the action catalogue called a service; it may only read names');
    },
  });
  return standIn as T;
}

let catalogueWithoutServer: CataloguedAction[] | undefined;

/** The catalogue for a process that serves nothing (`bulwark iam access-report`). */
export function servedActionCatalogue(): CataloguedAction[] {
  catalogueWithoutServer ??= servedApi(notCalled<ServedServices>()).catalogue;
  return catalogueWithoutServer;
}
