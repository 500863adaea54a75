import type { IotArns } from '../api/iot-arns.js';

/** The registry's resource kinds, as their ARNs name them. */
export type ResourceKind = 'thing' | 'thingtype' | 'thinggroup';

export interface ResourceRef {
  kind: ResourceKind;
  name: string;
}

const KINDS: readonly ResourceKind[] = ['thing', 'thingtype', 'thinggroup'];

/** The registry resource an ARN of this account and region names; undefined for anything else. */
export function registryResourceOf(arns: IotArns, arn: string): ResourceRef | undefined {
  const resource = arns.resourceOf(arn);
  if (!resource) return undefined;
  const kind = resource.type as ResourceKind;
  return KINDS.includes(kind) && resource.id.length > 0 ? { kind, name: resource.id } : undefined;
}
