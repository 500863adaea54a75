import type { Detector } from '../detector.js';

/*
 * The match is the password alone (the user, host and keys are found by lookbehind and
 * lookahead), so redaction keeps the rest of the string:
 * `postgres://app:[REDACTED:CONNECTION_STRING_PASSWORD]@db:5432/app`.
 */
/** `scheme://user:PASSWORD@host`; the user may be empty (`redis://:PASSWORD@host`). */
const URL_USER_INFO = String.raw`(?<=\b[A-Za-z][A-Za-z0-9+.-]{1,30}:\/\/[^\s:/?#@"'<>\\]{0,128}:)[^\s/?#@"'<>\\]{1,256}(?=@[A-Za-z0-9[])`;
/** `Password=PASSWORD;` (ADO.NET, ODBC, JDBC properties, URL query strings). */
const KEY_VALUE = String.raw`(?<=(?<![A-Za-z0-9_])(?:password|passwd|pwd)[ \t]*=[ \t]*)[^;&\s"'{}<>()]{1,256}`;

/** Another key of a connection string within reach of a `Password=` value. */
const CONNECTION_CONTEXT =
  /\b(?:server|host|hostname|data source|database|initial catalog|user ?id|uid|user|username|dbname|port|driver|dsn|provider)[ \t]*=|jdbc:|odbc:|:\/\//i;

/** Values that stand in for a password rather than being one. */
const PLACEHOLDER =
  /^(?:\*+|x{3,}|\.{3,}|\?+|\$\{[^}]*\}?|\$\(?\w+\)?|%\w+%?|<[^>]*>?|\{\{.*|\[REDACTED(?::[A-Z0-9_]+)?\]|redacted|hidden|password|secret|changeme|null|none)$/i;

export const connectionStringPassword: Detector = {
  id: 'CONNECTION_STRING_PASSWORD',
  category: 'CREDENTIALS',
  severity: 'HIGH',
  description:
    'Passwords in connection strings: scheme://user:password@host and Password=… beside other connection keys.',
  pattern: new RegExp(`${URL_USER_INFO}|${KEY_VALUE}`, 'gi'),
  prefilter: (text) => text.includes('://') || /passw|pwd/i.test(text),
  validate: (candidate, where) => {
    if (PLACEHOLDER.test(candidate)) return false;
    const { text, start, end } = where;
    if (text[start - 1] === ':' && text[end] === '@') return true;
    const around = text.slice(Math.max(0, start - 200), start) + ' ' + text.slice(end, end + 200);
    return CONNECTION_CONTEXT.test(around);
  },
};
