import type { StringRule } from '../../api/validation.js';
import { IamArns } from '../arns.js';
import type { LoginProfile, LoginProfiles } from '../passwords.js';
import type { QueryAction, QueryParams, XmlObject } from './action.js';
import { booleanParam, optionalParam, requiredParam, USER_NAME } from './params.js';
import { userNameOrCaller } from './user-actions.js';

/**
 * The model's Password pattern is left to the password policy, which reports it without echoing
 * the password. The protocol layer must keep Password out of its logs and of the audit trail.
 */
const PASSWORD: StringRule = { min: 1, max: 128 };

const userName = (params: QueryParams) => requiredParam(params, 'UserName', USER_NAME);

function loginProfileShape(profile: LoginProfile): XmlObject {
  return {
    LoginProfile: {
      UserName: profile.userName,
      CreateDate: profile.createDate,
      PasswordResetRequired: profile.passwordResetRequired,
    },
  };
}

/** CreateLoginProfile, UpdateLoginProfile, GetLoginProfile and DeleteLoginProfile, served by `profiles`. */
export function loginProfileActions(profiles: LoginProfiles): QueryAction[] {
  return [
    {
      service: 'iam',
      name: 'CreateLoginProfile',
      readOnly: false,
      resource: (params, context) => new IamArns(context.accountId).user(userName(params)),
      async handle(params) {
        const profile = await profiles.create(
          userName(params),
          requiredParam(params, 'Password', PASSWORD),
          booleanParam(params, 'PasswordResetRequired') ?? false,
        );
        return loginProfileShape(profile);
      },
    },
    {
      service: 'iam',
      name: 'UpdateLoginProfile',
      readOnly: false,
      resource: (params, context) => new IamArns(context.accountId).user(userName(params)),
      async handle(params) {
        const password = optionalParam(params, 'Password', PASSWORD);
        const passwordResetRequired = booleanParam(params, 'PasswordResetRequired');
        await profiles.update(userName(params), {
          ...(password !== undefined ? { password } : {}),
          ...(passwordResetRequired !== undefined ? { passwordResetRequired } : {}),
        });
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'GetLoginProfile',
      readOnly: true,
      resource: (params, context) =>
        new IamArns(context.accountId).user(userNameOrCaller(params, context)),
      async handle(params, context) {
        return loginProfileShape(await profiles.get(userNameOrCaller(params, context)));
      },
    },
    {
      service: 'iam',
      name: 'DeleteLoginProfile',
      readOnly: false,
      resource: (params, context) => new IamArns(context.accountId).user(userName(params)),
      async handle(params) {
        await profiles.delete(userName(params));
        return undefined;
      },
    },
  ];
}
