/**
 * How STS GetSessionToken (and, later, console sign-in) checks an MFA code: the device
 * implementation (virtual TOTP devices, src/iam/mfa.ts) answers; callers need not know how.
 */
export interface MfaVerifier {
  /**
   * Whether `code` is the current code of the user's MFA device `serialNumber`. A code accepted
   * once is refused after (RFC 6238 §5.2); repeated failures lock the device for a while.
   */
  verify(
    userName: string,
    serialNumber: string,
    code: string,
  ): Promise<'ok' | 'invalid' | 'locked'>;
}
