import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { isIP } from "node:net";

/**
 * A throw-away certificate authority for the service emulators, made with `node:crypto` alone: an EC P-256 key
 * and a self-signed X.509 v3 CA certificate, which issues server certificates whose subjectAltName lists the
 * emulator's host names (real-looking ones like `myvault.vault.azure.net`, plus `localhost` and `127.0.0.1`).
 *
 * Clients trust it through {@link TestCertificateAuthority.cert} (PEM): pass it to `createTrustingHttpClient(ca)`,
 * `createEmulatorHttpClient({ ca, routes })`, `new https.Agent({ ca })`, or, for a child process, write it to a file
 * and start the child with `NODE_EXTRA_CA_CERTS=<file>` (read once at process start).
 */
export interface TestCertificateAuthority {
  /** The CA certificate, PEM. What clients trust. */
  readonly cert: string;
  /** Issues a server certificate (PEM) and its private key (PKCS#8 PEM) for these DNS names and IP addresses. */
  issue(names: readonly string[]): {
    /** The server certificate, PEM. */
    cert: string;
    /** Its private key, PKCS#8 PEM. */
    key: string;
  };
}

/** Makes a new certificate authority. Each call makes a new key: certificates of different CAs do not mix. */
export function createTestCertificateAuthority(commonName = "diagnostic-credential test CA"): TestCertificateAuthority {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const caName = name(commonName);
  const caKeyId = keyIdentifier(publicKey);
  const cert = toPem(
    buildCertificate({
      issuer: caName,
      subject: caName,
      subjectPublicKey: publicKey,
      signingKey: privateKey,
      extensions: [
        extension(OID.basicConstraints, true, seq(bool(true))),
        extension(OID.keyUsage, true, keyUsage([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
        extension(OID.subjectKeyIdentifier, false, octetString(caKeyId)),
      ],
    }),
  );
  return {
    cert,
    issue(names) {
      const leaf = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const unique = [...new Set(names.map((n) => n.toLowerCase()))];
      const der = buildCertificate({
        issuer: caName,
        subject: name(unique[0] ?? "localhost"),
        subjectPublicKey: leaf.publicKey,
        signingKey: privateKey,
        extensions: [
          extension(OID.basicConstraints, true, seq()),
          extension(OID.keyUsage, true, keyUsage([KEY_USAGE.digitalSignature])),
          extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
          extension(OID.subjectAltName, false, seq(...unique.map(generalName))),
          extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(leaf.publicKey))),
          extension(OID.authorityKeyIdentifier, false, seq(tagged(0x80, caKeyId))),
        ],
      });
      return { cert: toPem(der), key: leaf.privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
    },
  };
}

// ---- certificate assembly -------------------------------------------------------------------------------------

const OID = {
  commonName: "2.5.4.3",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

interface CertificateParts {
  issuer: Buffer;
  subject: Buffer;
  subjectPublicKey: KeyObject;
  signingKey: KeyObject;
  extensions: Buffer[];
}

function buildCertificate(parts: CertificateParts): Buffer {
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and non-zero
  const signatureAlgorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    tagged(0xa0, integer(Buffer.from([2]))), // version v3
    integer(serial),
    signatureAlgorithm,
    parts.issuer,
    seq(time(new Date(now - 60 * 60 * 1000)), time(new Date(now + 365 * 24 * 60 * 60 * 1000))),
    parts.subject,
    parts.subjectPublicKey.export({ type: "spki", format: "der" }),
    tagged(0xa3, seq(...parts.extensions)),
  );
  const signature = sign("sha256", tbs, parts.signingKey); // ECDSA: DER-encoded (r, s)
  const der = seq(tbs, signatureAlgorithm, bitString(signature));
  new X509Certificate(der); // throws if the encoding is wrong: fail here, not in a handshake
  return der;
}

function name(commonName: string): Buffer {
  return seq(set(seq(oid(OID.commonName), tlv(0x0c, Buffer.from(commonName, "utf8")))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octetString(value)) : seq(oid(id), octetString(value));
}

function keyUsage(bits: number[]): Buffer {
  // Named bit list: bit 0 is the most significant bit of the first byte; trailing zero bits are dropped.
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return tlv(0x03, Buffer.concat([Buffer.from([7 - (max & 7)]), bytes]));
}

function generalName(value: string): Buffer {
  const family = isIP(value);
  if (family === 4) return tagged(0x87, Buffer.from(value.split(".").map(Number)));
  if (family === 6) return tagged(0x87, ipv6Bytes(value));
  return tagged(0x82, Buffer.from(value, "ascii")); // dNSName (IA5String)
}

function ipv6Bytes(value: string): Buffer {
  const [head = "", tail = ""] = value.split("::");
  const groups = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = value.includes("::") ? groups(tail) : [];
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash("sha1")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest();
}

function toPem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

// ---- a minimal DER encoder ------------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const tagged = (tag: number, content: Buffer) => tlv(tag, content);
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
const octetString = (content: Buffer) => tlv(0x04, content);
const bitString = (content: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), content]));

function integer(unsignedBigEndian: Buffer): Buffer {
  let bytes = unsignedBigEndian;
  while (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) bytes = bytes.subarray(1);
  if ((bytes[0]! & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const out = [40 * first + second];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const compact = iso.slice(0, 19).replace(/[-:T]/g, ""); // YYYYMMDDHHMMSS
  const year = date.getUTCFullYear();
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return year < 2050 ? tlv(0x17, Buffer.from(`${compact.slice(2)}Z`, "ascii")) : tlv(0x18, Buffer.from(`${compact}Z`, "ascii"));
}
