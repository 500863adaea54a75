import type { Detector } from '../detector.js';
import { derSequence, strictBase64 } from './validators.js';

/*
 * Line breaks inside a key are real (`\n`, `\r\n`), blanks where a JSON line's escapes were read
 * as blanks (DetectorSet.redactJsonLine), or, in JSON that holds JSON, escapes (`\\n`). The body
 * may not contain `--`, which keeps the scan linear: it stops at the first dash run, where the
 * END line must be. A PuTTY file is bounded in length, so its lazy scan for `Private-MAC` is too.
 */
const LABEL = '(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?';
const PEM = `-----BEGIN ${LABEL}-----(?:[^-]|-(?!-))+-----END ${LABEL}-----`;
const PUTTY = String.raw`PuTTY-User-Key-File-[23]: [\w@.-]+[^]{1,16384}?Private-MAC: [0-9a-fA-F]{40,64}`;

const PEM_PARTS = /^-----BEGIN ([A-Z ]+)-----([\s\S]*)-----END ([A-Z ]+)-----$/;
const LINE_BREAKS = /\r?\n|\\+r\\+n|\\+n|\\+r| {2,}/;
const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

/**
 * The PEM body decodes: header lines (`Proc-Type:`, `DEK-Info:`, PGP's `Version:`) and PGP's
 * `=XXXX` checksum line set aside, the rest is strict base64 of a plausible key — a complete DER
 * SEQUENCE (PKCS #1, #8, SEC 1, DSA), an `openssh-key-v1` blob, an OpenPGP secret-key packet —
 * or, for a legacy encrypted key (`Proc-Type: 4,ENCRYPTED`), any ciphertext.
 */
function pemBodyDecodes(candidate: string): boolean {
  const parts = PEM_PARTS.exec(candidate);
  if (!parts || parts[1] !== parts[3]) return false;
  const label = parts[1] ?? '';
  const lines = (parts[2] ?? '')
    .replace(/\\\//g, '/')
    .split(LINE_BREAKS)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const headers = lines.filter((line) => /^[A-Za-z-]+: /.test(line));
  let body = lines.filter((line) => !/^[A-Za-z-]+: /.test(line));
  if (label.startsWith('PGP') && body.at(-1)?.startsWith('=')) body = body.slice(0, -1);
  const bytes = strictBase64(body.join(''));
  if (!bytes || bytes.length < 48) return false;
  if (label.startsWith('PGP')) {
    const tag = bytes[0] ?? 0;
    // OpenPGP secret-key packet (tag 5): old format 0x94–0x97, new format 0xC5.
    return (tag & 0xfc) === 0x94 || tag === 0xc5;
  }
  if (label.startsWith('OPENSSH'))
    return bytes.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC);
  if (headers.some((line) => /^Proc-Type: 4,ENCRYPTED$/.test(line))) return true;
  return derSequence(bytes);
}

export const privateKey: Detector = {
  id: 'PRIVATE_KEY',
  category: 'CREDENTIALS',
  severity: 'HIGH',
  description:
    'Private keys: PEM blocks (PKCS #1/#8, SEC 1, DSA, OpenSSH, PGP, encrypted) whose body decodes, and PuTTY key files.',
  pattern: new RegExp(`${PEM}|${PUTTY}`, 'g'),
  prefilter: (text) => text.includes('PRIVATE KEY') || text.includes('PuTTY-User-Key-File-'),
  validate: (candidate) =>
    candidate.startsWith('PuTTY')
      ? /Private-Lines: \d+/.test(candidate)
      : pemBodyDecodes(candidate),
};
