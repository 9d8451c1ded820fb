/**
 * Just enough of the protocol buffers wire format to write an ONNX model
 * (https://protobuf.dev/programming-guides/encoding/): varints, length-delimited fields
 * (strings, bytes, nested messages, packed repeats). A message is built as a list of
 * byte chunks and joined once.
 */

/** One message under construction. */
export class ProtoMessage {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private tag(field: number, wireType: 0 | 2 | 5): void {
    this.push(varint(field * 8 + wireType));
  }

  /** A varint field (int32, int64, enum, bool); negative values are not needed here and are refused. */
  int(field: number, value: number): this {
    this.tag(field, 0);
    this.push(varint(value));
    return this;
  }

  /** A 32-bit float field (wire type 5). */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.push(varint(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: ProtoMessage): this {
    return this.bytes(field, value.finish());
  }

  /** A packed repeated varint field (e.g. TensorProto.dims). */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoMessage();
    for (const v of values) inner.push(varint(v));
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}

/** Base-128 varint of a non-negative safe integer. */
export function varint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf: varint must be a non-negative safe integer, got ${value}`);
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}
