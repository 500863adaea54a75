import {
  epochSeconds,
  type Operation,
  type OperationRequest,
  type OperationResult,
} from '../../api/operation.js';
import {
  bodyObject,
  checkPageSize,
  checkString,
  constraintError,
  decodeToken,
  encodeToken,
  NEXT_TOKEN,
  optionalArray,
  optionalQueryString,
  queryBoolean,
  queryInteger,
  type StringRule,
} from '../../api/validation.js';
import { SEVERITIES, type Severity } from '../detector.js';
import type { BackgroundScans } from './background.js';
import { SOURCE_KINDS, type Finding, type Scan, type SourceKind } from './types.js';

/**
 * The scan API (restJson1, signed like the control plane): StartScan, DescribeScan, ListScans,
 * CancelScan, ListFindings, GetFinding, ArchiveFinding, UnarchiveFinding. AWS IoT has no such
 * API, so their IAM actions are Bulwark's own: `bulwark:StartScan`, `bulwark:ListFindings`, ….
 */

const SCAN_ID: StringRule = { min: 1, max: 64, pattern: 'scan-[0-9]{8}T[0-9]{6}Z-[a-z0-9]{1,16}' };
const FINDING_ID: StringRule = { min: 32, max: 32, pattern: '[0-9a-f]{32}' };
const DETECTOR_ID: StringRule = { min: 2, max: 64, pattern: '[A-Z][A-Z0-9_]{1,63}' };
const MAX_RESULTS = 250;
const DEFAULT_MAX_RESULTS = 100;

function scanOperation(spec: {
  name: string;
  method: Operation['method'];
  path: string;
  readOnly: boolean;
  handle: (request: OperationRequest) => Promise<OperationResult>;
}): Operation {
  return { ...spec, action: `bulwark:${spec.name}`, plane: 'control' };
}

/** A scan as the API gives it; cursors (which name things, topics, clients) stay inside. */
export function scanView(scan: Scan) {
  return {
    scanId: scan.scanId,
    status: scan.status,
    trigger: scan.trigger,
    sources: scan.sources,
    sourcesDone: scan.done,
    statistics: { itemsScanned: scan.items, bytesScanned: scan.bytes, findings: scan.findings },
    startedAt: epochSeconds(scan.startedAt),
    ...(scan.finishedAt !== undefined ? { finishedAt: epochSeconds(scan.finishedAt) } : {}),
    lastUpdatedAt: epochSeconds(scan.updatedAt),
    ...(scan.failureReason !== undefined ? { failureReason: scan.failureReason } : {}),
  };
}

export function findingView(finding: Finding) {
  return {
    findingId: finding.findingId,
    scanId: finding.scanId,
    detector: finding.detector,
    category: finding.category,
    severity: finding.severity,
    resourceArn: finding.resourceArn,
    resourceType: finding.resourceType,
    ...(finding.shadowName !== undefined ? { shadowName: finding.shadowName } : {}),
    count: finding.count,
    occurrences: finding.occurrences,
    createdAt: epochSeconds(finding.createdAt),
    archived: finding.archived,
  };
}

function pageLimit(request: OperationRequest): number {
  const maxResults = queryInteger(request.query, 'maxResults');
  return maxResults === undefined
    ? DEFAULT_MAX_RESULTS
    : checkPageSize(maxResults, 'maxResults', MAX_RESULTS);
}

function sourcesOf(body: Record<string, unknown>): SourceKind[] | undefined {
  const sources = optionalArray(body.sources, 'sources');
  if (sources === undefined) return undefined;
  if (sources.length === 0)
    throw constraintError('sources', 'Member must have length greater than or equal to 1');
  for (const source of sources)
    if (!SOURCE_KINDS.includes(source as SourceKind))
      throw constraintError(
        'sources',
        `Member must contain only values in [${SOURCE_KINDS.join(', ')}]`,
      );
  return sources as SourceKind[];
}

function severityOf(request: OperationRequest): Severity | undefined {
  const severity = optionalQueryString(request.query, 'severity', { max: 16 });
  if (severity !== undefined && !SEVERITIES.includes(severity as Severity))
    throw constraintError(
      'severity',
      `Member must satisfy enum value set: [${SEVERITIES.join(', ')}]`,
    );
  return severity as Severity | undefined;
}

export function scanOperations(background: BackgroundScans): Operation[] {
  const scanIdOf = (request: OperationRequest) =>
    checkString(request.params.scanId ?? '', 'scanId', SCAN_ID);
  const findingIdOf = (request: OperationRequest) =>
    checkString(request.params.findingId ?? '', 'findingId', FINDING_ID);
  return [
    scanOperation({
      name: 'StartScan',
      method: 'POST',
      path: '/guard/scans',
      readOnly: false,
      handle: async (request) => {
        const scan = await background.startScan(sourcesOf(bodyObject(request.body)));
        return { body: { scanId: scan.scanId } };
      },
    }),
    scanOperation({
      name: 'DescribeScan',
      method: 'GET',
      path: '/guard/scans/:scanId',
      readOnly: true,
      handle: async (request) => ({
        body: scanView(await background.service.describe(scanIdOf(request))),
      }),
    }),
    scanOperation({
      name: 'ListScans',
      method: 'GET',
      path: '/guard/scans',
      readOnly: true,
      handle: async (request) => {
        const after = decodeToken(
          optionalQueryString(request.query, 'nextToken', NEXT_TOKEN),
          'ListScans',
        );
        const limit = pageLimit(request);
        const scans = await background.service.list(after, limit + 1);
        const page = scans.slice(0, limit);
        const last = page[page.length - 1];
        return {
          body: {
            scans: page.map(scanView),
            ...(scans.length > limit && last
              ? { nextToken: encodeToken('ListScans', last.scanId) }
              : {}),
          },
        };
      },
    }),
    scanOperation({
      name: 'CancelScan',
      method: 'POST',
      path: '/guard/scans/:scanId/cancel',
      readOnly: false,
      handle: async (request) => {
        await background.service.cancel(scanIdOf(request));
        return {};
      },
    }),
    scanOperation({
      name: 'ListFindings',
      method: 'GET',
      path: '/guard/findings',
      readOnly: true,
      handle: async (request) => {
        const { query } = request;
        const after = decodeToken(
          optionalQueryString(query, 'nextToken', NEXT_TOKEN),
          'ListFindings',
        );
        const limit = pageLimit(request);
        const scanId = optionalQueryString(query, 'scanId', SCAN_ID);
        const detector = optionalQueryString(query, 'detector', DETECTOR_ID);
        const severity = severityOf(request);
        const archived = queryBoolean(query, 'archived');
        const findings = await background.service.findings(
          {
            ...(scanId !== undefined ? { scanId } : {}),
            ...(detector !== undefined ? { detector } : {}),
            ...(severity !== undefined ? { severity } : {}),
            ...(archived !== undefined ? { archived } : {}),
          },
          after,
          limit + 1,
        );
        const page = findings.slice(0, limit);
        const last = page[page.length - 1];
        return {
          body: {
            findings: page.map(findingView),
            ...(findings.length > limit && last
              ? { nextToken: encodeToken('ListFindings', last.findingId) }
              : {}),
          },
        };
      },
    }),
    scanOperation({
      name: 'GetFinding',
      method: 'GET',
      path: '/guard/findings/:findingId',
      readOnly: true,
      handle: async (request) => ({
        body: { finding: findingView(await background.service.finding(findingIdOf(request))) },
      }),
    }),
    scanOperation({
      name: 'ArchiveFinding',
      method: 'POST',
      path: '/guard/findings/:findingId/archive',
      readOnly: false,
      handle: async (request) => {
        await background.service.setArchived(findingIdOf(request), true);
        return {};
      },
    }),
    scanOperation({
      name: 'UnarchiveFinding',
      method: 'POST',
      path: '/guard/findings/:findingId/unarchive',
      readOnly: false,
      handle: async (request) => {
        await background.service.setArchived(findingIdOf(request), false);
        return {};
      },
    }),
  ];
}
