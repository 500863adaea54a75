import type { CataloguedAction } from './action-catalogue.js';
import { ACCESS_REPORT_DAYS, accessReportShape, type AccessReports } from './access-report.js';
import { IamArns } from './arns.js';
import type { QueryAction, QueryParams } from './query/action.js';
import { integerParam, requiredParam, USER_NAME } from './query/params.js';

const userName = (params: QueryParams) => requiredParam(params, 'UserName', USER_NAME);

/**
 * GetUserAccessReport (a Bulwark extension to IAM's Query API, action `iam:GetUserAccessReport`
 * on the user's ARN): the user's access report, `UserName` and `Days` (1–180, default 90).
 * `catalogue` is read when a report is asked for: it lists the served actions, this one too.
 */
export function accessReportActions(
  reports: AccessReports,
  catalogue: () => readonly CataloguedAction[],
): QueryAction[] {
  return [
    {
      service: 'iam',
      name: 'GetUserAccessReport',
      readOnly: true,
      resource: (params, context) => new IamArns(context.accountId).user(userName(params)),
      async handle(params) {
        const days = integerParam(params, 'Days', ACCESS_REPORT_DAYS) ?? ACCESS_REPORT_DAYS.default;
        return accessReportShape(await reports.reportFor(userName(params), days, catalogue()));
      },
    },
  ];
}
