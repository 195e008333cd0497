/**
 * DER and X.509: the certificates of the instance principal's chain, built and parsed here.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPublicKey, KeyObject, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { type Bytes, bytesEqual, concatBytes, utf8 } from "./bytes.ts";

export const OID = {
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  commonName: "2.5.4.3",
  organizationalUnit: "2.5.4.11",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
} as const;

/** DER encoding (X.690) of the few types an X.509 certificate needs. */
const der = {
  node(tag: number, ...parts: Uint8Array[]): Bytes {
    const content = concatBytes(parts);
    return concatBytes([Uint8Array.of(tag), der.length(content.length), content]);
  },
  length(length: number): Uint8Array {
    if (length < 0x80) return Uint8Array.of(length);
    const bytes: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
    return Uint8Array.of(0x80 | bytes.length, ...bytes);
  },
  sequence: (...parts: Uint8Array[]) => der.node(0x30, ...parts),
  set: (...parts: Uint8Array[]) => der.node(0x31, ...parts),
  explicit: (tagNumber: number, ...parts: Uint8Array[]) => der.node(0xa0 | tagNumber, ...parts),
  integer(bytes: Uint8Array): Bytes {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    return der.node(0x02, trimmed[0] & 0x80 ? concatBytes([Uint8Array.of(0), trimmed]) : trimmed);
  },
  oid(dotted: string): Bytes {
    const [first, second, ...rest] = dotted.split(".").map(Number);
    const bytes = [40 * first + second];
    for (const arc of rest) {
      const chunk = [arc & 0x7f];
      for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
        chunk.unshift(0x80 | (value & 0x7f));
      }
      bytes.push(...chunk);
    }
    return der.node(0x06, Uint8Array.from(bytes));
  },
  utf8String: (text: string) => der.node(0x0c, utf8(text)),
  bitString: (bytes: Uint8Array) => der.node(0x03, Uint8Array.of(0), bytes),
  octetString: (bytes: Uint8Array) => der.node(0x04, bytes),
  boolean: (value: boolean) => der.node(0x01, Uint8Array.of(value ? 0xff : 0)),
  null: () => Uint8Array.of(0x05, 0x00),
  /** UTCTime before 2050, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires. */
  time(ms: number): Bytes {
    const iso = new Date(ms).toISOString();
    const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
    return ms < Date.UTC(2050, 0, 1)
      ? der.node(0x17, utf8(`${digits.slice(2)}Z`))
      : der.node(0x18, utf8(`${digits}Z`));
  },
  /** A Name: one RDN per component, values as UTF8String (PrintableString cannot hold `:`). */
  name(components: readonly (readonly [string, string])[]): Bytes {
    return der.sequence(
      ...components.map(([oid, value]) => der.set(der.sequence(der.oid(oid), der.utf8String(value)))),
    );
  },
};

interface DerNode {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readDerNode(bytes: Uint8Array, offset: number, limit = bytes.length): DerNode {
  if (offset + 2 > limit) throw new Error("truncated DER");
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  let contentStart = offset + 2;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4 || contentStart + count > limit) throw new Error("bad DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[contentStart++];
  }
  const end = contentStart + length;
  if (end > limit) throw new Error("truncated DER");
  return { tag, start: offset, contentStart, end };
}

function derChildren(bytes: Uint8Array, parent: DerNode): DerNode[] {
  const children: DerNode[] = [];
  for (let offset = parent.contentStart; offset < parent.end;) {
    const child = readDerNode(bytes, offset, parent.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

export interface ParsedCertificate {
  der: Bytes;
  tbs: Bytes;
  signature: Bytes;
  subject: string[];
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
}

function parseDerTime(bytes: Uint8Array, node: DerNode): number {
  const text = new TextDecoder().decode(bytes.subarray(node.contentStart, node.end));
  const match = node.tag === 0x17
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) throw new Error(`unsupported certificate time ${text}`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const fullYear = node.tag === 0x17 ? (year < 50 ? 2000 + year : 1900 + year) : year;
  return Date.UTC(fullYear, month - 1, day, hour, minute, second);
}

/** Parses an X.509 v3 certificate signed with sha256WithRSAEncryption; throws on anything else. */
export function parseCertificate(bytes: Bytes): ParsedCertificate {
  const certificate = readDerNode(bytes, 0);
  if (certificate.end !== bytes.length) throw new Error("trailing bytes after the certificate");
  const [tbsNode, algorithmNode, signatureNode] = derChildren(bytes, certificate);
  if (!tbsNode || !algorithmNode || signatureNode?.tag !== 0x03) throw new Error("not a certificate");
  const expectedAlgorithm = der.oid(OID.sha256WithRSAEncryption);
  const [algorithmOid] = derChildren(bytes, algorithmNode);
  if (!bytesEqual(bytes.subarray(algorithmOid.start, algorithmOid.end), expectedAlgorithm)) {
    throw new Error("the certificate is not signed with sha256WithRSAEncryption");
  }
  let fields = derChildren(bytes, tbsNode);
  if (fields[0]?.tag === 0xa0) fields = fields.slice(1);
  const [, , , validity, subject, spki] = fields;
  const [notBefore, notAfter] = derChildren(bytes, validity).map((node) => parseDerTime(bytes, node));
  const components = derChildren(bytes, subject).flatMap((rdn) =>
    derChildren(bytes, rdn).map((attribute) => {
      const [, value] = derChildren(bytes, attribute);
      return new TextDecoder().decode(bytes.subarray(value.contentStart, value.end));
    })
  );
  return {
    der: bytes,
    tbs: bytes.slice(tbsNode.start, tbsNode.end),
    // The first content byte of a BIT STRING counts unused bits.
    signature: bytes.slice(signatureNode.contentStart + 1, signatureNode.end),
    subject: components,
    notBefore,
    notAfter,
    publicKey: createPublicKey({
      key: Buffer.from(bytes.subarray(spki.start, spki.end)),
      format: "der",
      type: "spki",
    }),
  };
}

/** RSA PKCS#1 v1.5 SHA-256 verification; a signature re-encoded without leading zeros is padded back. */
export function rsaVerify(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? signature.length * 8) / 8);
  const padded = signature.length < modulusBytes
    ? concatBytes([new Uint8Array(modulusBytes - signature.length), signature])
    : signature;
  try {
    return nodeVerify("sha256", data, publicKey, padded);
  } catch {
    return false;
  }
}

function spkiDer(publicKey: KeyObject): Bytes {
  return new Uint8Array(publicKey.export({ type: "spki", format: "der" })) as Bytes;
}

export function buildCertificate(options: {
  serial: Uint8Array;
  issuer: readonly (readonly [string, string])[];
  subject: readonly (readonly [string, string])[];
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  signingKey: KeyObject;
  isCa: boolean;
}): Bytes {
  const algorithm = der.sequence(der.oid(OID.sha256WithRSAEncryption), der.null());
  const extensions = options.isCa
    ? [der.explicit(
      3,
      der.sequence(
        der.sequence(
          der.oid(OID.basicConstraints),
          der.boolean(true),
          der.octetString(der.sequence(der.boolean(true))),
        ),
      ),
    )]
    : [];
  const tbs = der.sequence(
    der.explicit(0, der.integer(Uint8Array.of(2))),
    der.integer(options.serial),
    algorithm,
    der.name(options.issuer),
    der.sequence(der.time(options.notBefore), der.time(options.notAfter)),
    der.name(options.subject),
    spkiDer(options.publicKey),
    ...extensions,
  );
  const signature = nodeSign("sha256", tbs, options.signingKey);
  return der.sequence(tbs, algorithm, der.bitString(signature));
}
