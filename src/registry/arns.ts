/** The registry's resource kinds, as their ARNs name them. */
export type ResourceKind = 'thing' | 'thingtype' | 'thinggroup';

export interface ResourceRef {
  kind: ResourceKind;
  name: string;
}

const KINDS: readonly ResourceKind[] = ['thing', 'thingtype', 'thinggroup'];

/** Builds and reads `arn:aws:iot:{region}:{accountId}:{kind}/{name}` for this account and region. */
export class Arns {
  readonly region: string;
  readonly accountId: string;
  private readonly prefix: string;

  constructor(region: string, accountId: string) {
    this.region = region;
    this.accountId = accountId;
    this.prefix = `arn:aws:iot:${region}:${accountId}:`;
  }

  thing(name: string): string {
    return `${this.prefix}thing/${name}`;
  }

  thingType(name: string): string {
    return `${this.prefix}thingtype/${name}`;
  }

  thingGroup(name: string): string {
    return `${this.prefix}thinggroup/${name}`;
  }

  /** The registry resource an ARN of this account and region names; undefined for anything else. */
  parse(arn: string): ResourceRef | undefined {
    if (!arn.startsWith(this.prefix)) return undefined;
    const rest = arn.slice(this.prefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return undefined;
    const kind = rest.slice(0, slash) as ResourceKind;
    const name = rest.slice(slash + 1);
    return KINDS.includes(kind) && name.length > 0 ? { kind, name } : undefined;
  }
}
