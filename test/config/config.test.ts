import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { isBulwarkError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp.js';

function configError(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    assert.ok(isBulwarkError(error, 'ConfigInvalid'), String(error));
    assert.equal(error.exitCode, 2);
    return error.message;
  }
  assert.fail('expected a configuration error');
}

test('defaults match the command contract', () => {
  const config = loadConfig();
  assert.equal(config.dataDir, './data');
  assert.equal(config.mqttPort, 8883);
  assert.equal(config.apiPort, 8443);
  assert.equal(config.devPort, null);
  assert.equal(config.store.engine, 'sqlite');
  assert.equal(config.region, 'us-east-1');
});

test('file, then BULWARK_* environment, then flags: later sources win', (t) => {
  const dir = tempDir(t);
  const yamlFile = join(dir, 'bulwark.yaml');
  writeFileSync(
    yamlFile,
    'apiPort: 9000\nmqttPort: 9001\nstore:\n  engine: postgres\n  postgres:\n    schema: fleet\nhostNames: [iot.example.com]\n',
  );
  const config = loadConfig({
    file: yamlFile,
    env: { BULWARK_MQTT_PORT: '9101', BULWARK_LOG_LEVEL: 'DEBUG', UNRELATED: 'x' },
    flags: { apiPort: '0' },
  });
  assert.equal(config.apiPort, 0);
  assert.equal(config.mqttPort, 9101);
  assert.equal(config.store.engine, 'postgres');
  assert.equal(config.store.postgres.schema, 'fleet');
  assert.deepEqual(config.hostNames, ['iot.example.com']);
  assert.equal(config.log.level, 'DEBUG');
  const jsonFile = join(dir, 'bulwark.json');
  writeFileSync(jsonFile, JSON.stringify({ store: { sqlite: { synchronous: 'normal' } } }));
  assert.equal(loadConfig({ file: jsonFile }).store.sqlite.synchronous, 'normal');
  assert.deepEqual(loadConfig({ env: { BULWARK_HOST_NAMES: 'a.example, b.example' } }).hostNames, [
    'a.example',
    'b.example',
  ]);
});

test('an invalid value is reported with its key, its value, its source and what is allowed', (t) => {
  assert.equal(
    configError(() => loadConfig({ env: { BULWARK_MQTT_PORT: '70000' } })),
    'invalid configuration: mqttPort = 70000 (from BULWARK_MQTT_PORT): expected at most 65535',
  );
  assert.match(
    configError(() => loadConfig({ env: { BULWARK_STORE_ENGINE: 'mysql' } })),
    /store\.engine = "mysql" \(from BULWARK_STORE_ENGINE\): expected one of "sqlite", "postgres"/,
  );
  assert.match(
    configError(() => loadConfig({ flags: { apiPort: 'https' } })),
    /apiPort = "https" \(from a command-line flag\): expected number/,
  );
  const dir = tempDir(t);
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'store:\n  engin: sqlite\n');
  assert.match(
    configError(() => loadConfig({ file })),
    /unknown setting store\.engin/,
  );
  writeFileSync(file, 'region: mars\n');
  assert.match(
    configError(() => loadConfig({ file })),
    new RegExp(
      `region = "mars" \\(from ${file.replace(/[/.]/g, '\\$&')}\\): expected an AWS-style region`,
    ),
  );
  writeFileSync(file, 'apiPort: [1\n');
  assert.match(
    configError(() => loadConfig({ file })),
    /is not valid YAML/,
  );
  assert.match(
    configError(() => loadConfig({ file: join(dir, 'missing.yaml') })),
    /cannot read config file/,
  );
});

test('tls: the default policy, BULWARK_TLS_* names, AWS IoT policy names and per-listener overrides', (t) => {
  const defaults = loadConfig();
  assert.equal(defaults.tls.policy, 'Bulwark-TLS12-2026');
  assert.equal(
    defaults.tls.apiPolicy,
    undefined,
    'a listener without its own falls back to tls.policy',
  );
  assert.equal(defaults.tls.mqttPolicy, undefined);
  const fromEnv = loadConfig({
    env: {
      BULWARK_TLS_POLICY: 'IoTSecurityPolicy_TLS13_1_2_2022_10',
      BULWARK_TLS_API_POLICY: 'Bulwark-TLS13-2026',
      BULWARK_TLS_MQTT_POLICY: 'IoTSecurityPolicy_TLS13_1_3_2022_10',
    },
  });
  assert.deepEqual(fromEnv.tls, {
    certificateFile: null,
    privateKeyFile: null,
    policy: 'IoTSecurityPolicy_TLS13_1_2_2022_10',
    apiPolicy: 'Bulwark-TLS13-2026',
    mqttPolicy: 'IoTSecurityPolicy_TLS13_1_3_2022_10',
  });
  const file = join(tempDir(t), 'bulwark.yaml');
  writeFileSync(file, 'tls:\n  mqttPolicy: Bulwark-TLS13-2026\n');
  assert.equal(loadConfig({ file }).tls.mqttPolicy, 'Bulwark-TLS13-2026');
});

test('an unknown TLS policy name is refused with every name allowed', (t) => {
  const allowed =
    '"Bulwark-TLS12-2026", "Bulwark-TLS13-2026", "IoTSecurityPolicy_TLS13_1_3_2022_10", ' +
    '"IoTSecurityPolicy_TLS13_1_2_2022_10", "IoTSecurityPolicy_TLS12_1_2_2022_10", ' +
    '"IoTSecurityPolicy_TLS12_1_0_2016_01", "IoTSecurityPolicy_TLS12_1_0_2015_01", ' +
    '"IoTSecurityPolicy_TLS13_1_2_2022_01"';
  assert.equal(
    configError(() => loadConfig({ env: { BULWARK_TLS_POLICY: 'Mozilla-Old' } })),
    `invalid configuration: tls.policy = "Mozilla-Old" (from BULWARK_TLS_POLICY): expected one of ${allowed}`,
  );
  assert.equal(
    configError(() => loadConfig({ env: { BULWARK_TLS_API_POLICY: 'tls1.2' } })),
    `invalid configuration: tls.apiPolicy = "tls1.2" (from BULWARK_TLS_API_POLICY): expected one of ${allowed}`,
  );
  const file = join(tempDir(t), 'bad.yaml');
  writeFileSync(file, 'tls:\n  policy: IoTSecurityPolicy_TLS12_1_0_2016_01\n  minVersion: TLSv1\n');
  assert.match(
    configError(() => loadConfig({ file })),
    /unknown setting tls\.minVersion/,
  );
});
