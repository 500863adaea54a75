/** IAM's ARNs in one account (IAM is global: no region). Bulwark serves only the path `/`. */
export class IamArns {
  private readonly prefix: string;

  constructor(readonly accountId: string) {
    this.prefix = `arn:aws:iam::${accountId}:`;
  }

  user(userName: string): string {
    return `${this.prefix}user/${userName}`;
  }

  group(groupName: string): string {
    return `${this.prefix}group/${groupName}`;
  }

  policy(policyName: string): string {
    return `${this.prefix}policy/${policyName}`;
  }

  /** The name of this account's managed policy `arn`; undefined for any other ARN. */
  policyName(arn: string): string | undefined {
    if (!arn.startsWith(`${this.prefix}policy/`)) return undefined;
    const name = arn.slice(this.prefix.length + 'policy/'.length);
    return name === '' || name.includes('/') ? undefined : name;
  }
}
