import type { IotArns } from '../../api/iot-arns.js';
import type { Logger } from '../../logs/logger.js';
import type { Registry } from '../../registry/index.js';
import type { Store } from '../../store/index.js';
import type { DetectorSet } from '../detector-set.js';
import { ScanRecords } from './records.js';
import { ScanService } from './scanner.js';
import { storedDataSources } from './sources.js';

export { BackgroundScans } from './background.js';
export { findingView, scanOperations, scanView } from './operations.js';
export { guardScanMigrations, type FindingFilter } from './records.js';
export { LEASE_MS, ScanService, type RunOptions } from './scanner.js';
export { storedDataSources } from './sources.js';
export * from './types.js';

/** Scans over a data dir's stored device data, for a server or a command. */
export function openScanService(options: {
  store: Store;
  arns: IotArns;
  detectors: DetectorSet;
  pageSize: number;
  logger?: Logger;
  /** The server's registry; a command goes without. */
  registry?: Registry;
}): ScanService {
  return new ScanService({
    records: new ScanRecords(options.store),
    sources: storedDataSources(options),
    detectors: options.detectors,
    pageSize: options.pageSize,
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
