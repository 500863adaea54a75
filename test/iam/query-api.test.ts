// IAM and STS over AWS's Query protocol on the API port, through the real server: the AWS CLI v2
// (`aws iam …`, `aws sts …` with --endpoint-url), the SDK v3 (@aws-sdk/client-iam and
// @aws-sdk/client-sts), and raw signed requests for what the clients will not send. Temporary
// credentials are used for an `aws iot` call and expire; no secret reaches the logs or the disk.
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeletePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachUserPolicyCommand,
  GetAccessKeyLastUsedCommand,
  GetGroupCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedGroupPoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupsCommand,
  ListGroupsForUserCommand,
  ListPoliciesCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutGroupPolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { DescribeEndpointCommand } from '@aws-sdk/client-iot';
import { GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { migrations } from '../../src/app/migrations.js';
import { IAM_SESSIONS_TABLE } from '../../src/iam/migrations.js';
import {
  adminCredentials,
  iotClient,
  needAwsCli,
  REGION,
  runAwsCli,
  sendRequest,
  serverCa,
  signedRequest,
  type ApiTarget,
  type AwsCredentials,
  type WireResponse,
} from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { openHarnessAt } from '../helpers/store-harness.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const admin = adminCredentials(dataDir);
/** Every secret the server handed out, to look for in its logs and on its disk at the end. */
const secretsIssued: string[] = [admin.secretAccessKey];

interface SessionCredentials extends AwsCredentials {
  sessionToken: string;
}

function clientConfig(credentials: AwsCredentials | SessionCredentials) {
  return {
    endpoint: `https://127.0.0.1:${target.port}`,
    region: REGION,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: serverCa(dataDir) }) }),
  };
}

const iamClient = (credentials: AwsCredentials | SessionCredentials = admin) =>
  new IAMClient(clientConfig(credentials));
const stsClient = (credentials: AwsCredentials | SessionCredentials = admin) =>
  new STSClient(clientConfig(credentials));
const iam = iamClient();
const sts = stsClient();

type SdkError = Error & { $metadata: { httpStatusCode?: number } };

async function sdkError(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    return error as SdkError;
  }
  assert.fail('the call succeeded');
}

async function rejectsWith(
  promise: Promise<unknown>,
  name: string,
  status: number,
  message?: RegExp,
): Promise<void> {
  const error = await sdkError(promise);
  assert.equal(error.name, name, error.message);
  assert.equal(error.$metadata.httpStatusCode, status, name);
  if (message) assert.match(error.message, message);
}

async function newKey(userName: string): Promise<AwsCredentials> {
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  secretsIssued.push(AccessKey?.SecretAccessKey as string);
  return {
    accessKeyId: AccessKey?.AccessKeyId as string,
    secretAccessKey: AccessKey?.SecretAccessKey as string,
  };
}

async function sessionFor(
  credentials: AwsCredentials,
  durationSeconds?: number,
): Promise<SessionCredentials & { expiration: Date }> {
  const { Credentials } = await stsClient(credentials).send(
    new GetSessionTokenCommand(durationSeconds ? { DurationSeconds: durationSeconds } : {}),
  );
  secretsIssued.push(Credentials?.SecretAccessKey as string, Credentials?.SessionToken as string);
  return {
    accessKeyId: Credentials?.AccessKeyId as string,
    secretAccessKey: Credentials?.SecretAccessKey as string,
    sessionToken: Credentials?.SessionToken as string,
    expiration: Credentials?.Expiration as Date,
  };
}

/** A Query request signed as `service` (iam by default), sent as a form POST. */
function queryRequest(
  form: Record<string, string>,
  options: { service?: string; region?: string; credentials?: AwsCredentials } = {},
): Promise<WireResponse> {
  return signedRequest(
    target,
    {
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams(form).toString(),
    },
    options.credentials ?? admin,
    { service: options.service ?? 'iam', ...(options.region ? { region: options.region } : {}) },
  );
}

function assertQueryError(
  response: WireResponse,
  status: number,
  code: string,
  namespace = IAM_NS,
): void {
  assert.equal(response.status, status, response.body);
  assert.match(response.headers['content-type'] ?? '', /^text\/xml/);
  const requestId = response.headers['x-amzn-requestid'] as string;
  assert.match(
    response.body,
    new RegExp(
      `^<ErrorResponse xmlns="${namespace}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>[^<]*</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>$`,
    ),
  );
}

/** An IAM policy allowing `action`, with `condition` as a value that any string may be. */
const policy = (action: string, condition = 'none') =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: action,
        Resource: '*',
        Condition: { StringNotEquals: { 'aws:username': condition } },
      },
    ],
  });

test('the AWS CLI v2 drives IAM and STS at the same --endpoint-url as aws iot', async (t) => {
  if (!needAwsCli(t)) return;
  const home = tempDir(t);
  const cli = (args: string[], credentials?: AwsCredentials) => {
    const result = runAwsCli(target, args, { home, ...(credentials ? { credentials } : {}) });
    assert.equal(result.status, 0, `aws ${args.join(' ')}: ${result.stderr}`);
    return result.stdout === '' ? {} : JSON.parse(result.stdout);
  };
  const created = cli(['iam', 'create-user', '--user-name', 'cli-user']);
  assert.equal(created.User.UserName, 'cli-user');
  assert.equal(created.User.Arn, `arn:aws:iam::${ACCOUNT_ID}:user/cli-user`);
  assert.match(created.User.UserId, /^AIDA[A-Z2-7]{17}$/);
  assert.equal(created.User.Path, '/');

  const key = cli(['iam', 'create-access-key', '--user-name', 'cli-user']).AccessKey;
  assert.match(key.AccessKeyId, /^AKIA[A-Z2-7]{16}$/);
  assert.match(key.SecretAccessKey, /^[A-Za-z0-9+/]{40}$/);
  assert.equal(key.Status, 'Active');
  secretsIssued.push(key.SecretAccessKey);
  const userKey = { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };

  const identity = cli(['sts', 'get-caller-identity'], userKey);
  assert.deepEqual(identity, {
    UserId: created.User.UserId,
    Account: ACCOUNT_ID,
    Arn: created.User.Arn,
  });

  const session = cli(['sts', 'get-session-token', '--duration-seconds', '900']).Credentials;
  assert.match(session.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
  assert.ok(session.SessionToken.length >= 32);
  secretsIssued.push(session.SecretAccessKey, session.SessionToken);
  const expiresIn = Date.parse(session.Expiration) - Date.now();
  assert.ok(expiresIn > 880_000 && expiresIn <= 900_000, `expires in ${expiresIn} ms`);

  // The CLI decodes IAM's URL-encoded policy documents, as it does against AWS.
  cli([
    'iam',
    'put-user-policy',
    '--user-name',
    'cli-user',
    '--policy-name',
    'describe',
    '--policy-document',
    policy('iot:DescribeThing'),
  ]);
  const read = cli([
    'iam',
    'get-user-policy',
    '--user-name',
    'cli-user',
    '--policy-name',
    'describe',
  ]);
  assert.deepEqual(read.PolicyDocument, JSON.parse(policy('iot:DescribeThing')));
  assert.deepEqual(
    cli(['iam', 'list-users']).Users.map((user: { UserName: string }) => user.UserName),
    ['admin', 'cli-user'],
  );

  const missing = runAwsCli(target, ['iam', 'get-user', '--user-name', 'nobody'], { home });
  assert.equal(missing.status, 254);
  assert.match(
    missing.stderr,
    /\(NoSuchEntity\) when calling the GetUser operation: The user with name nobody cannot be found\./,
  );
  // The user's own keys reach IAM but are not allowed to change it.
  const denied = runAwsCli(target, ['iam', 'create-user', '--user-name', 'x'], {
    home,
    credentials: userKey,
  });
  assert.equal(denied.status, 254);
  assert.match(
    denied.stderr,
    /\(AccessDenied\) when calling the CreateUser operation: User: arn:aws:iam::123456789012:user\/cli-user is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::123456789012:user\/x/,
  );
});

test('users: create, get (by name and as the caller), list in pages, delete once nothing refers to them', async () => {
  const created = await iam.send(new CreateUserCommand({ UserName: 'alice' }));
  assert.equal(created.User?.Arn, `arn:aws:iam::${ACCOUNT_ID}:user/alice`);
  assert.ok(created.User?.CreateDate instanceof Date);
  assert.ok(Math.abs((created.User?.CreateDate?.getTime() ?? 0) - Date.now()) < 60_000);
  const got = await iam.send(new GetUserCommand({ UserName: 'alice' }));
  assert.deepEqual(got.User, created.User);
  assert.equal((await iam.send(new GetUserCommand({}))).User?.UserName, 'admin');

  await rejectsWith(
    iam.send(new CreateUserCommand({ UserName: 'alice' })),
    'EntityAlreadyExistsException',
    409,
    /^User with name alice already exists\.$/,
  );
  // IAM names are unique regardless of case.
  await rejectsWith(
    iam.send(new CreateUserCommand({ UserName: 'ALICE' })),
    'EntityAlreadyExistsException',
    409,
  );
  await rejectsWith(
    iam.send(new CreateUserCommand({ UserName: 'bad name' })),
    'ValidationError',
    400,
    /Value at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern/,
  );
  await rejectsWith(
    iam.send(new CreateUserCommand({ UserName: 'tagged', Tags: [{ Key: 'k', Value: 'v' }] })),
    'ValidationError',
    400,
    /Tags/,
  );
  await rejectsWith(
    iam.send(new CreateUserCommand({ UserName: 'pathed', Path: '/division/' })),
    'InvalidInputException',
    400,
  );
  await rejectsWith(
    iam.send(new GetUserCommand({ UserName: 'nobody' })),
    'NoSuchEntityException',
    404,
    /^The user with name nobody cannot be found\.$/,
  );

  for (const name of ['page-1', 'page-2', 'page-3'])
    await iam.send(new CreateUserCommand({ UserName: name }));
  const names: string[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await iam.send(new ListUsersCommand({ MaxItems: 2, Marker: marker }));
    names.push(...(page.Users ?? []).map((user) => user.UserName as string));
    assert.equal(page.IsTruncated, page.Marker !== undefined);
    marker = page.Marker;
    pages++;
  } while (marker !== undefined);
  assert.ok(pages >= 3);
  for (const name of ['admin', 'alice', 'page-1', 'page-2', 'page-3'])
    assert.ok(names.includes(name), name);
  assert.equal(new Set(names).size, names.length);
  await rejectsWith(
    iam.send(new ListUsersCommand({ Marker: 'not-a-marker' })),
    'ValidationError',
    400,
  );

  // DeleteConflict while keys, policies or groups refer to the user, as IAM.
  const key = await newKey('alice');
  await rejectsWith(
    iam.send(new DeleteUserCommand({ UserName: 'alice' })),
    'DeleteConflictException',
    409,
    /must delete access keys first/,
  );
  await iam.send(new DeleteAccessKeyCommand({ UserName: 'alice', AccessKeyId: key.accessKeyId }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'alice',
      PolicyName: 'p',
      PolicyDocument: policy('iot:*'),
    }),
  );
  await rejectsWith(
    iam.send(new DeleteUserCommand({ UserName: 'alice' })),
    'DeleteConflictException',
    409,
    /must delete policies first/,
  );
  await iam.send(new DeleteUserPolicyCommand({ UserName: 'alice', PolicyName: 'p' }));
  await iam.send(new CreateGroupCommand({ GroupName: 'alice-group' }));
  await iam.send(new AddUserToGroupCommand({ GroupName: 'alice-group', UserName: 'alice' }));
  await rejectsWith(
    iam.send(new DeleteUserCommand({ UserName: 'alice' })),
    'DeleteConflictException',
    409,
    /must remove users from group first/,
  );
  await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'alice-group', UserName: 'alice' }));
  await iam.send(new DeleteUserCommand({ UserName: 'alice' }));
  await rejectsWith(
    iam.send(new DeleteUserCommand({ UserName: 'alice' })),
    'NoSuchEntityException',
    404,
  );
});

test('groups: create, members, list, groups for a user, delete once empty', async () => {
  const created = await iam.send(new CreateGroupCommand({ GroupName: 'operators' }));
  assert.equal(created.Group?.Arn, `arn:aws:iam::${ACCOUNT_ID}:group/operators`);
  assert.match(created.Group?.GroupId ?? '', /^AGPA[A-Z2-7]{17}$/);
  await rejectsWith(
    iam.send(new CreateGroupCommand({ GroupName: 'Operators' })),
    'EntityAlreadyExistsException',
    409,
  );
  await iam.send(new CreateUserCommand({ UserName: 'bob' }));
  await iam.send(new AddUserToGroupCommand({ GroupName: 'operators', UserName: 'bob' }));
  // Adding again changes nothing.
  await iam.send(new AddUserToGroupCommand({ GroupName: 'operators', UserName: 'bob' }));
  await iam.send(new AddUserToGroupCommand({ GroupName: 'operators', UserName: 'admin' }));
  const group = await iam.send(new GetGroupCommand({ GroupName: 'operators' }));
  assert.equal(group.Group?.GroupName, 'operators');
  assert.deepEqual(
    group.Users?.map((user) => user.UserName),
    ['admin', 'bob'],
  );
  assert.equal(group.IsTruncated, false);
  const firstMember = await iam.send(new GetGroupCommand({ GroupName: 'operators', MaxItems: 1 }));
  assert.equal(firstMember.IsTruncated, true);
  const secondMember = await iam.send(
    new GetGroupCommand({ GroupName: 'operators', MaxItems: 1, Marker: firstMember.Marker }),
  );
  assert.deepEqual(
    secondMember.Users?.map((user) => user.UserName),
    ['bob'],
  );
  assert.ok(
    (await iam.send(new ListGroupsCommand({}))).Groups?.some(
      (listed) => listed.GroupName === 'operators',
    ),
  );
  assert.deepEqual(
    (await iam.send(new ListGroupsForUserCommand({ UserName: 'bob' }))).Groups?.map(
      (listed) => listed.GroupName,
    ),
    ['operators'],
  );
  await rejectsWith(
    iam.send(new AddUserToGroupCommand({ GroupName: 'nobody-group', UserName: 'bob' })),
    'NoSuchEntityException',
    404,
    /^The group with name nobody-group cannot be found\.$/,
  );
  await rejectsWith(
    iam.send(new AddUserToGroupCommand({ GroupName: 'operators', UserName: 'nobody' })),
    'NoSuchEntityException',
    404,
  );
  await rejectsWith(
    iam.send(new DeleteGroupCommand({ GroupName: 'operators' })),
    'DeleteConflictException',
    409,
    /must remove users from group first/,
  );
  await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'operators', UserName: 'bob' }));
  await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'operators', UserName: 'admin' }));
  await rejectsWith(
    iam.send(new RemoveUserFromGroupCommand({ GroupName: 'operators', UserName: 'bob' })),
    'NoSuchEntityException',
    404,
  );
  await iam.send(
    new PutGroupPolicyCommand({
      GroupName: 'operators',
      PolicyName: 'read',
      PolicyDocument: policy('iot:Describe*'),
    }),
  );
  await rejectsWith(
    iam.send(new DeleteGroupCommand({ GroupName: 'operators' })),
    'DeleteConflictException',
    409,
    /must delete policies first/,
  );
  await iam.send(new DeleteGroupPolicyCommand({ GroupName: 'operators', PolicyName: 'read' }));
  await rejectsWith(
    iam.send(new DeleteGroupPolicyCommand({ GroupName: 'operators', PolicyName: 'read' })),
    'NoSuchEntityException',
    404,
    /^The group policy with name read cannot be found\.$/,
  );
  await iam.send(new DeleteGroupCommand({ GroupName: 'operators' }));
  assert.deepEqual((await iam.send(new ListGroupsForUserCommand({ UserName: 'bob' }))).Groups, []);
});

test('inline user policies: put, get URL-encoded as IAM returns it, list, replace, delete; bad documents refused', async () => {
  await iam.send(new CreateUserCommand({ UserName: 'carol' }));
  const document = policy('iot:DescribeThing', 'spécial & <chars> "quoted"');
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'carol',
      PolicyName: 'describe',
      PolicyDocument: document,
    }),
  );
  const got = await iam.send(
    new GetUserPolicyCommand({ UserName: 'carol', PolicyName: 'describe' }),
  );
  assert.equal(got.UserName, 'carol');
  assert.equal(got.PolicyName, 'describe');
  assert.notEqual(got.PolicyDocument, document, 'IAM sends documents URL-encoded');
  assert.equal(decodeURIComponent(got.PolicyDocument as string), document);
  await iam.send(
    new PutUserPolicyCommand({
      UserName: 'carol',
      PolicyName: 'describe',
      PolicyDocument: policy('iot:ListThings'),
    }),
  );
  const replaced = await iam.send(
    new GetUserPolicyCommand({ UserName: 'carol', PolicyName: 'describe' }),
  );
  assert.equal(decodeURIComponent(replaced.PolicyDocument as string), policy('iot:ListThings'));
  assert.deepEqual(
    (await iam.send(new ListUserPoliciesCommand({ UserName: 'carol' }))).PolicyNames,
    ['describe'],
  );

  for (const malformed of [
    '{"Statement": [',
    '{"Version":"2012-10-17"}',
    '{"Version":"2012-10-17","Statement":[{"Action":"iot:*","Resource":"*"}]}',
  ])
    await rejectsWith(
      iam.send(
        new PutUserPolicyCommand({
          UserName: 'carol',
          PolicyName: 'bad',
          PolicyDocument: malformed,
        }),
      ),
      'MalformedPolicyDocumentException',
      400,
    );
  const huge = policy('iot:*', 'x'.repeat(2100));
  await rejectsWith(
    iam.send(
      new PutUserPolicyCommand({ UserName: 'carol', PolicyName: 'huge', PolicyDocument: huge }),
    ),
    'LimitExceededException',
    409,
    /Maximum policy size of 2048 bytes exceeded for user carol/,
  );
  // The quota counts all of a user's inline policies together.
  const half = policy('iot:*', 'y'.repeat(1100));
  await iam.send(
    new PutUserPolicyCommand({ UserName: 'carol', PolicyName: 'half-1', PolicyDocument: half }),
  );
  await rejectsWith(
    iam.send(
      new PutUserPolicyCommand({ UserName: 'carol', PolicyName: 'half-2', PolicyDocument: half }),
    ),
    'LimitExceededException',
    409,
  );
  await iam.send(new DeleteUserPolicyCommand({ UserName: 'carol', PolicyName: 'half-1' }));
  await rejectsWith(
    iam.send(
      new PutUserPolicyCommand({ UserName: 'nobody', PolicyName: 'p', PolicyDocument: document }),
    ),
    'NoSuchEntityException',
    404,
  );
  await iam.send(new DeleteUserPolicyCommand({ UserName: 'carol', PolicyName: 'describe' }));
  await rejectsWith(
    iam.send(new GetUserPolicyCommand({ UserName: 'carol', PolicyName: 'describe' })),
    'NoSuchEntityException',
    404,
    /^The user policy with name describe cannot be found\.$/,
  );
});

test('managed policies: create with v1, get, get version, list, attach to users and groups, detach, delete', async () => {
  const document = policy('iot:DescribeThing');
  const created = await iam.send(
    new CreatePolicyCommand({
      PolicyName: 'describe-things',
      PolicyDocument: document,
      Description: 'read things',
    }),
  );
  const arn = `arn:aws:iam::${ACCOUNT_ID}:policy/describe-things`;
  assert.equal(created.Policy?.Arn, arn);
  assert.equal(created.Policy?.DefaultVersionId, 'v1');
  assert.equal(created.Policy?.AttachmentCount, 0);
  assert.equal(created.Policy?.IsAttachable, true);
  assert.match(created.Policy?.PolicyId ?? '', /^ANPA[A-Z2-7]{17}$/);
  await rejectsWith(
    iam.send(new CreatePolicyCommand({ PolicyName: 'describe-things', PolicyDocument: document })),
    'EntityAlreadyExistsException',
    409,
    /^A policy called describe-things already exists\. Duplicate names are not allowed\.$/,
  );
  await rejectsWith(
    iam.send(new CreatePolicyCommand({ PolicyName: 'broken', PolicyDocument: '[]' })),
    'MalformedPolicyDocumentException',
    400,
  );
  const got = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
  assert.equal(got.Policy?.Description, 'read things');
  const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
  assert.equal(version.PolicyVersion?.IsDefaultVersion, true);
  assert.equal(decodeURIComponent(version.PolicyVersion?.Document as string), document);
  await rejectsWith(
    iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' })),
    'NoSuchEntityException',
    404,
  );

  await iam.send(new CreateUserCommand({ UserName: 'dave' }));
  await iam.send(new CreateGroupCommand({ GroupName: 'readers' }));
  await iam.send(new AttachUserPolicyCommand({ UserName: 'dave', PolicyArn: arn }));
  await iam.send(new AttachUserPolicyCommand({ UserName: 'dave', PolicyArn: arn }));
  await iam.send(new AttachGroupPolicyCommand({ GroupName: 'readers', PolicyArn: arn }));
  assert.deepEqual(
    (await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'dave' }))).AttachedPolicies,
    [{ PolicyName: 'describe-things', PolicyArn: arn }],
  );
  assert.deepEqual(
    (await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: 'readers' })))
      .AttachedPolicies,
    [{ PolicyName: 'describe-things', PolicyArn: arn }],
  );
  assert.equal(
    (await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.AttachmentCount,
    2,
  );
  const local = await iam.send(new ListPoliciesCommand({ Scope: 'Local', OnlyAttached: true }));
  assert.deepEqual(
    local.Policies?.map((listed) => [listed.PolicyName, listed.AttachmentCount]),
    [['describe-things', 2]],
  );
  assert.deepEqual((await iam.send(new ListPoliciesCommand({ Scope: 'AWS' }))).Policies, []);

  await rejectsWith(
    iam.send(new DeletePolicyCommand({ PolicyArn: arn })),
    'DeleteConflictException',
    409,
    /^Cannot delete a policy attached to entities\.$/,
  );
  await rejectsWith(
    iam.send(new DeleteUserCommand({ UserName: 'dave' })),
    'DeleteConflictException',
    409,
    /must detach all policies first/,
  );
  const missingArn = `arn:aws:iam::${ACCOUNT_ID}:policy/nothing-here`;
  await rejectsWith(
    iam.send(new AttachUserPolicyCommand({ UserName: 'dave', PolicyArn: missingArn })),
    'NoSuchEntityException',
    404,
    new RegExp(`^Policy ${missingArn} does not exist or is not attachable\\.$`),
  );
  await rejectsWith(
    iam.send(new GetPolicyCommand({ PolicyArn: 'not-an-arn-at-all-really' })),
    'InvalidInputException',
    400,
  );
  await iam.send(new DetachUserPolicyCommand({ UserName: 'dave', PolicyArn: arn }));
  await rejectsWith(
    iam.send(new DetachUserPolicyCommand({ UserName: 'dave', PolicyArn: arn })),
    'NoSuchEntityException',
    404,
  );
  await iam.send(new DetachGroupPolicyCommand({ GroupName: 'readers', PolicyArn: arn }));
  await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
  await rejectsWith(
    iam.send(new GetPolicyCommand({ PolicyArn: arn })),
    'NoSuchEntityException',
    404,
  );
  await iam.send(new DeleteUserCommand({ UserName: 'dave' }));
});

test('access keys: create (for a user, and the caller), list, deactivate and reactivate, last use, delete', async () => {
  await iam.send(new CreateUserCommand({ UserName: 'erin' }));
  const first = await newKey('erin');
  const second = await newKey('erin');
  await rejectsWith(
    iam.send(new CreateAccessKeyCommand({ UserName: 'erin' })),
    'LimitExceededException',
    409,
    /^Cannot exceed quota for AccessKeysPerUser: 2$/,
  );
  const listed = await iam.send(new ListAccessKeysCommand({ UserName: 'erin' }));
  assert.deepEqual(
    listed.AccessKeyMetadata?.map((key) => [key.AccessKeyId, key.Status]).sort(),
    [
      [first.accessKeyId, 'Active'],
      [second.accessKeyId, 'Active'],
    ].sort(),
  );
  assert.ok(listed.AccessKeyMetadata?.every((key) => !('SecretAccessKey' in key)));

  const neverUsed = await iam.send(
    new GetAccessKeyLastUsedCommand({ AccessKeyId: first.accessKeyId }),
  );
  assert.equal(neverUsed.UserName, 'erin');
  assert.deepEqual(neverUsed.AccessKeyLastUsed, { ServiceName: 'N/A', Region: 'N/A' });
  // Any signed call counts as a use, even one the key may not make.
  await sdkError(iotClient(target, first).send(new DescribeEndpointCommand({})));
  await eventually(async () => {
    const used = await iam.send(
      new GetAccessKeyLastUsedCommand({ AccessKeyId: first.accessKeyId }),
    );
    return used.AccessKeyLastUsed?.ServiceName === 'iot';
  }, 'the last use is recorded');
  const used = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: first.accessKeyId }));
  assert.equal(used.AccessKeyLastUsed?.Region, REGION);
  assert.ok(Math.abs((used.AccessKeyLastUsed?.LastUsedDate?.getTime() ?? 0) - Date.now()) < 60_000);

  await iam.send(
    new UpdateAccessKeyCommand({
      UserName: 'erin',
      AccessKeyId: first.accessKeyId,
      Status: 'Inactive',
    }),
  );
  await rejectsWith(
    stsClient(first).send(new GetCallerIdentityCommand({})),
    'InvalidClientTokenId',
    403,
    /^The security token included in the request is invalid\.$/,
  );
  await iam.send(
    new UpdateAccessKeyCommand({
      UserName: 'erin',
      AccessKeyId: first.accessKeyId,
      Status: 'Active',
    }),
  );
  assert.equal(
    (await stsClient(first).send(new GetCallerIdentityCommand({}))).Arn,
    `arn:aws:iam::${ACCOUNT_ID}:user/erin`,
  );
  await rejectsWith(
    iam.send(
      new UpdateAccessKeyCommand({
        UserName: 'erin',
        AccessKeyId: first.accessKeyId,
        Status: 'Sleeping' as 'Active',
      }),
    ),
    'ValidationError',
    400,
    /Member must satisfy enum value set: \[Active, Inactive\]/,
  );

  for (const key of [first, second])
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'erin', AccessKeyId: key.accessKeyId }));
  await rejectsWith(
    iam.send(new DeleteAccessKeyCommand({ UserName: 'erin', AccessKeyId: first.accessKeyId })),
    'NoSuchEntityException',
    404,
    /^The Access Key with id AKIA[A-Z2-7]{16} cannot be found\.$/,
  );
  await rejectsWith(
    iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: first.accessKeyId })),
    'NoSuchEntityException',
    404,
  );

  // Without UserName, the caller's own keys (the administrator has one; a second is allowed).
  const own = await iam.send(new CreateAccessKeyCommand({}));
  secretsIssued.push(own.AccessKey?.SecretAccessKey as string);
  assert.equal(own.AccessKey?.UserName, 'admin');
  assert.ok(
    (await iam.send(new ListAccessKeysCommand({}))).AccessKeyMetadata?.some(
      (key) => key.AccessKeyId === own.AccessKey?.AccessKeyId,
    ),
  );
  await iam.send(new DeleteAccessKeyCommand({ AccessKeyId: own.AccessKey?.AccessKeyId }));
  await iam.send(new DeleteUserCommand({ UserName: 'erin' }));
});

test('STS: GetCallerIdentity; GetSessionToken credentials work for aws iot, carry no MFA, and expire', async () => {
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  assert.equal(identity.Arn, `arn:aws:iam::${ACCOUNT_ID}:user/admin`);
  assert.equal(identity.Account, ACCOUNT_ID);
  assert.match(identity.UserId ?? '', /^AIDA/);

  const session = await sessionFor(admin);
  assert.match(session.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
  const defaultLifetime = session.expiration.getTime() - Date.now();
  assert.ok(
    defaultLifetime > 43_140_000 && defaultLifetime <= 43_200_000,
    `12 hours by default: ${defaultLifetime}`,
  );
  const endpoint = await iotClient(target, session).send(new DescribeEndpointCommand({}));
  assert.equal(endpoint.endpointAddress, 'localhost');
  const sessionIdentity = await stsClient(session).send(new GetCallerIdentityCommand({}));
  assert.deepEqual(
    [sessionIdentity.Arn, sessionIdentity.UserId, sessionIdentity.Account],
    [identity.Arn, identity.UserId, identity.Account],
    'session credentials act as their user',
  );

  // As AWS: no IAM calls without MFA, and no new session from a session.
  await rejectsWith(iamClient(session).send(new ListUsersCommand({})), 'InvalidClientTokenId', 403);
  await rejectsWith(
    stsClient(session).send(new GetSessionTokenCommand({})),
    'AccessDenied',
    403,
    /^Cannot call GetSessionToken with session credentials$/,
  );
  // The token belongs to its key: another one is refused.
  const forged: SessionCredentials = {
    ...session,
    sessionToken: `${session.sessionToken.slice(0, -4)}AAAA`,
  };
  await rejectsWith(
    iotClient(target, forged).send(new DescribeEndpointCommand({})),
    'UnrecognizedClientException',
    403,
  );
  await rejectsWith(
    iotClient(target, {
      accessKeyId: session.accessKeyId,
      secretAccessKey: session.secretAccessKey,
    }).send(new DescribeEndpointCommand({})),
    'UnrecognizedClientException',
    403,
  );

  for (const duration of [899, 129_601])
    await rejectsWith(
      sts.send(new GetSessionTokenCommand({ DurationSeconds: duration })),
      'ValidationError',
      400,
      /durationSeconds/,
    );
  // No MFA verifier is wired in this server: MFA codes cannot be checked, so they are refused.
  await rejectsWith(
    sts.send(new GetSessionTokenCommand({ SerialNumber: 'arn:aws:iam::123456789012:mfa/admin' })),
    'AccessDenied',
    403,
    /must provide both MFA serial number and one time pass code/,
  );

  // Expiry: the session's row is moved into the past beside the running server, as time would.
  const short = await sessionFor(admin, 900);
  assert.equal(
    (await iotClient(target, short).send(new DescribeEndpointCommand({}))).endpointAddress,
    'localhost',
  );
  const harness = await openHarnessAt({ kind: 'sqlite', dataDir }, migrations);
  try {
    const row = await harness.store.get(IAM_SESSIONS_TABLE, { access_key_id: short.accessKeyId });
    assert.ok(row);
    await harness.store.put(IAM_SESSIONS_TABLE, { ...row, expires_at: Date.now() - 1000 });
  } finally {
    await harness.close();
  }
  await rejectsWith(
    iotClient(target, short).send(new DescribeEndpointCommand({})),
    'ExpiredTokenException',
    403,
    /^The security token included in the request is expired$/,
  );
  await rejectsWith(stsClient(short).send(new GetCallerIdentityCommand({})), 'ExpiredToken', 403);
});

test('the Query protocol on the wire: XML shapes, GET, unsigned, unknown actions and versions, scopes', async () => {
  const created = await queryRequest({
    Action: 'CreateUser',
    Version: '2010-05-08',
    UserName: 'wire-user',
  });
  assert.equal(created.status, 200, created.body);
  assert.match(created.headers['content-type'] ?? '', /^text\/xml/);
  const requestId = created.headers['x-amzn-requestid'] as string;
  assert.match(
    created.body,
    new RegExp(
      `^<CreateUserResponse xmlns="${IAM_NS}"><CreateUserResult><User><Path>/</Path><UserName>wire-user</UserName><UserId>AIDA[A-Z2-7]{17}</UserId><Arn>arn:aws:iam::${ACCOUNT_ID}:user/wire-user</Arn><CreateDate>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ</CreateDate></User></CreateUserResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></CreateUserResponse>$`,
    ),
  );
  const deleted = await queryRequest({
    Action: 'DeleteUser',
    Version: '2010-05-08',
    UserName: 'wire-user',
  });
  assert.match(
    deleted.body,
    new RegExp(
      `^<DeleteUserResponse xmlns="${IAM_NS}"><ResponseMetadata><RequestId>[0-9a-f-]{36}</RequestId></ResponseMetadata></DeleteUserResponse>$`,
    ),
  );
  const missing = await queryRequest({
    Action: 'GetUser',
    Version: '2010-05-08',
    UserName: 'wire-user',
  });
  assertQueryError(missing, 404, 'NoSuchEntity');

  // GET with the parameters in the query string, as IAM also accepts.
  const listed = await signedRequest(
    target,
    { method: 'GET', path: '/?Action=ListUsers&Version=2010-05-08&MaxItems=1', headers: {} },
    admin,
    { service: 'iam' },
  );
  assert.equal(listed.status, 200, listed.body);
  assert.match(
    listed.body,
    /<ListUsersResult><Users><member>.*<\/member><\/Users><IsTruncated>true<\/IsTruncated><Marker>[^<]+<\/Marker><\/ListUsersResult>/,
  );

  const caller = await queryRequest(
    { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    { service: 'sts' },
  );
  assert.match(
    caller.body,
    new RegExp(
      `^<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult><Arn>arn:aws:iam::${ACCOUNT_ID}:user/admin</Arn><UserId>AIDA[A-Z2-7]{17}</UserId><Account>${ACCOUNT_ID}</Account></GetCallerIdentityResult>`,
    ),
  );

  assertQueryError(
    await queryRequest({ Action: 'CreateUniverse', Version: '2010-05-08' }),
    400,
    'InvalidAction',
  );
  const noVersion = await queryRequest({ Action: 'ListUsers' });
  assertQueryError(noVersion, 400, 'InvalidAction');
  assert.match(
    noVersion.body,
    /Could not find operation ListUsers for version NO_VERSION_SPECIFIED/,
  );
  // An STS action signed for IAM is no IAM action.
  assertQueryError(
    await queryRequest({ Action: 'GetCallerIdentity', Version: '2011-06-15' }),
    400,
    'InvalidAction',
  );
  assertQueryError(await queryRequest({ Version: '2010-05-08' }), 400, 'MissingAction');
  const twice = await signedRequest(
    target,
    {
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetUser&Version=2010-05-08&UserName=admin&UserName=other',
    },
    admin,
    { service: 'iam' },
  );
  assertQueryError(twice, 400, 'ValidationError');

  const unsigned = await sendRequest(target, {
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Action=ListUsers&Version=2010-05-08',
  });
  assertQueryError(unsigned, 403, 'MissingAuthenticationToken');
  assertQueryError(
    await queryRequest({ Action: 'ListUsers', Version: '2010-05-08' }, { region: 'eu-west-3' }),
    403,
    'SignatureDoesNotMatch',
  );
  assertQueryError(
    await queryRequest(
      { Action: 'ListUsers', Version: '2010-05-08' },
      { credentials: { ...admin, secretAccessKey: 'x'.repeat(40) } },
    ),
    403,
    'SignatureDoesNotMatch',
  );
  assertQueryError(
    await queryRequest(
      { Action: 'ListUsers', Version: '2010-05-08' },
      { credentials: { accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) } },
    ),
    403,
    'InvalidClientTokenId',
  );
  const jsonBody = await signedRequest(
    target,
    { method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body: '{}' },
    admin,
    { service: 'iam' },
  );
  assertQueryError(jsonBody, 400, 'ValidationError');

  // The restJson1 routes are untouched.
  const iot = await signedRequest(target, { method: 'GET', path: '/endpoint', headers: {} });
  assert.equal(iot.status, 200, iot.body);
});

test('no secret in the server logs or in the raw database bytes', async () => {
  assert.ok(secretsIssued.length >= 8, `${secretsIssued.length} secrets collected`);
  const marker = 'policy-marker-7f3a9c';
  await iam.send(
    new CreatePolicyCommand({
      PolicyName: 'sealed-check',
      PolicyDocument: policy('iot:*', marker),
    }),
  );
  const logs = server.stderr();
  const base = join(dataDir, 'db', 'bulwark.db');
  const bytes = Buffer.concat(
    [base, `${base}-wal`].filter((path) => existsSync(path)).map((path) => readFileSync(path)),
  );
  assert.ok(
    bytes.includes(Buffer.from('sealed-check')),
    'the plaintext name is there: the read is real',
  );
  assert.equal(bytes.indexOf(Buffer.from(marker)), -1, 'a policy document in plaintext');
  for (const secret of secretsIssued) {
    assert.ok(!logs.includes(secret), 'a secret in the logs');
    assert.equal(bytes.indexOf(Buffer.from(secret)), -1, 'a secret in the raw database');
  }
});
