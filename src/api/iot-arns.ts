/**
 * The one builder and reader of AWS IoT ARNs, `arn:aws:iot:{region}:{accountId}:{type}/{id}`,
 * for this account and region; every capability names its resources through it.
 */
export class IotArns {
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

  /** A shadow as IAM and IoT policies name it: `thing/{thing}` or `thing/{thing}/{shadow}`. */
  shadow(thingName: string, shadowName?: string): string {
    return shadowName === undefined
      ? this.thing(thingName)
      : `${this.thing(thingName)}/${shadowName}`;
  }

  thingType(name: string): string {
    return `${this.prefix}thingtype/${name}`;
  }

  thingGroup(name: string): string {
    return `${this.prefix}thinggroup/${name}`;
  }

  certificate(certificateId: string): string {
    return `${this.prefix}cert/${certificateId}`;
  }

  caCertificate(certificateId: string): string {
    return `${this.prefix}cacert/${certificateId}`;
  }

  policy(name: string): string {
    return `${this.prefix}policy/${name}`;
  }

  topic(topic: string): string {
    return `${this.prefix}topic/${topic}`;
  }

  topicFilter(filter: string): string {
    return `${this.prefix}topicfilter/${filter}`;
  }

  client(clientId: string): string {
    return `${this.prefix}client/${clientId}`;
  }

  /** The `{type}` and `{id}` of an ARN of this account and region; undefined for any other. */
  resourceOf(arn: string): { type: string; id: string } | undefined {
    if (!arn.startsWith(this.prefix)) return undefined;
    const rest = arn.slice(this.prefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return undefined;
    return { type: rest.slice(0, slash), id: rest.slice(slash + 1) };
  }
}
