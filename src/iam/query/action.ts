import type { IamUserCaller } from '../../api/operation.js';
import type { FreeFormField } from '../../guard/field-guard.js';

/**
 * The seam of AWS's Query protocol (IAM 2010-05-08, STS 2011-06-15): a form-encoded
 * `Action=CreateUser&Version=…&UserName=…` POSTed to `/`, signed with the signing name `iam` or
 * `sts`, answered in XML. The protocol layer (src/iam/query/protocol.ts) authenticates,
 * authorizes `{service}:{name}` on `resource`, parses the form, calls `handle`, and renders the
 * result as `<{name}Response><{name}Result>…</{name}Result><ResponseMetadata>…` or a thrown
 * BulwarkError as `<ErrorResponse>`. Actions never see HTTP.
 */

/** The form's parameters as sent, flattened: `Tags.member.1.Key`, `PolicyArns.member.2`, … */
export type QueryParams = Readonly<Record<string, string>>;

/**
 * A result as XML: an object is an element per key (in key order), an array is a list of
 * `<member>` elements, a Date is ISO 8601, undefined is left out.
 */
export type XmlValue = string | number | boolean | Date | undefined | XmlValue[] | XmlObject;
export interface XmlObject {
  [element: string]: XmlValue;
}

export interface QueryContext {
  caller: IamUserCaller;
  accountId: string;
  region: string;
  requestId: string;
  sourceIp: string;
  userAgent: string;
}

export interface QueryAction {
  service: 'iam' | 'sts';
  /** The Query API's `Action`, e.g. `CreateUser`; the IAM action checked is `{service}:{name}`. */
  name: string;
  /** Read-only calls are marked so in the audit trail. */
  readOnly: boolean;
  /**
   * The resource ARN the action is authorized on, once the parameters are known (default `*`);
   * may look it up (GetAccessKeyLastUsed is authorized on the key's owner).
   */
  resource?(params: QueryParams, context: QueryContext): string | Promise<string>;
  /**
   * Authentication operations no policy can control (STS GetCallerIdentity, GetSessionToken):
   * every authenticated caller may call them, and no IAM action is checked.
   */
  withoutAuthorization?: true;
  /**
   * The free-form text the call would store (the name it creates, a description, tags), checked
   * by the field guard once the call is authorized, before `handle`.
   */
  freeFormFields?(params: QueryParams): FreeFormField[];
  /** The content of `<{name}Result>`; undefined for actions whose response has no result element. */
  handle(params: QueryParams, context: QueryContext): Promise<XmlObject | undefined>;
}
