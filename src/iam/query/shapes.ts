import type { IamArns } from '../arns.js';
import type { IamGroup } from '../groups.js';
import type { IamPage } from '../pagination.js';
import type { IamUser } from '../users.js';
import type { XmlObject, XmlValue } from './action.js';

/** IAM's result shapes shared by several actions. Every entity here has the path `/`. */

export function userShape(user: IamUser, arns: IamArns): XmlObject {
  return {
    Path: '/',
    UserName: user.userName,
    UserId: user.userId,
    Arn: arns.user(user.userName),
    CreateDate: user.createDate,
  };
}

export function groupShape(group: IamGroup, arns: IamArns): XmlObject {
  return {
    Path: '/',
    GroupName: group.groupName,
    GroupId: group.groupId,
    Arn: arns.group(group.groupName),
    CreateDate: group.createDate,
  };
}

/** A list result's members under `element`, with IsTruncated and, when truncated, Marker. */
export function listShape<T>(
  element: string,
  page: IamPage<T>,
  member: (item: T) => XmlValue,
): XmlObject {
  return {
    [element]: page.items.map(member),
    IsTruncated: page.marker !== undefined,
    Marker: page.marker,
  };
}

/** IAM returns policy documents URL-encoded (RFC 3986) inside the XML, as AWS does. */
export function encodedDocument(document: string): string {
  return encodeURIComponent(document).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
