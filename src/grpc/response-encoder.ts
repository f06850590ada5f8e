import type { MessageTypeDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';

/**
 * Response serializers that write a message's protobuf encoding straight into one buffer, compiled
 * at start-up from the descriptors proto-loader read from the .proto files (which stay the one
 * source of the shapes). proto-loader serializes with protobufjs, whose writer allocates an
 * operation object per field and copies everything once more at the end: for a history page of 50
 * messages that was the largest share of a call's CPU after the HTTP/2 stack, most of it garbage
 * (docs/performance.md, "gRPC read path"). The bytes are the same as protobufjs's for every value
 * the service sends (response-encoder.spec.ts compares them); a field type this does not know
 * fails the start-up instead of being sent wrong.
 */

type FieldKind = 'string' | 'varint' | 'bool' | 'message';

interface FieldPlan {
  name: string;
  kind: FieldKind;
  repeated: boolean;
  /** The field's key (number and wire type) as varint bytes. */
  key: number[];
  message?: MessagePlan;
}

interface MessagePlan {
  fields: FieldPlan[];
}

const KINDS: Record<string, FieldKind> = {
  TYPE_STRING: 'string',
  TYPE_INT32: 'varint',
  TYPE_INT64: 'varint',
  TYPE_UINT32: 'varint',
  TYPE_UINT64: 'varint',
  TYPE_BOOL: 'bool',
  TYPE_MESSAGE: 'message',
};

interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

/** The descriptor's package, for resolving a field's relative type name ("Message" in messaging.v1). */
function packageOf(typeName: string): string {
  return typeName.slice(0, typeName.lastIndexOf('.'));
}

function compile(definition: PackageDefinition, typeName: string, plans: Map<string, MessagePlan>): MessagePlan {
  const known = plans.get(typeName);
  if (known) return known;
  const type = definition[typeName] as MessageTypeDefinition<object, object> | undefined;
  if (!type || type.format !== 'Protocol Buffer 3 DescriptorProto') throw new Error(`response encoder: ${typeName} is not a message type`);
  const plan: MessagePlan = { fields: [] };
  plans.set(typeName, plan);
  const fields = [...((type.type as { field: FieldDescriptor[] }).field ?? [])].sort((a, b) => a.number - b.number);
  for (const field of fields) {
    const kind = KINDS[field.type];
    if (!kind) throw new Error(`response encoder: ${typeName}.${field.name} has type ${field.type}, which it does not encode`);
    const repeated = field.label === 'LABEL_REPEATED';
    // proto3 packs repeated scalars by default; this encoder writes none, so it refuses them.
    if (repeated && kind !== 'string' && kind !== 'message') throw new Error(`response encoder: repeated scalar ${typeName}.${field.name} is not supported`);
    const wireType = kind === 'string' || kind === 'message' ? 2 : 0;
    const nested = kind === 'message' ? compile(definition, resolve(definition, packageOf(typeName), field.typeName), plans) : undefined;
    const key = Buffer.alloc(varintSize(field.number * 8 + wireType));
    writeVarint(key, 0, field.number * 8 + wireType);
    plan.fields.push({ name: field.name, kind, repeated, key: [...key], message: nested });
  }
  return plan;
}

function resolve(definition: PackageDefinition, scope: string, typeName: string): string {
  if (typeName.startsWith('.')) return typeName.slice(1);
  for (let prefix = scope; ; prefix = packageOf(prefix)) {
    const candidate = prefix ? `${prefix}.${typeName}` : typeName;
    if (candidate in definition) return candidate;
    if (!prefix) throw new Error(`response encoder: cannot resolve type ${typeName} from ${scope}`);
  }
}

function varintSize(value: number): number {
  if (value < 0) return 10; // a negative int32 or int64 is sign-extended to 64 bits
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  let size = 5;
  for (let rest = Math.floor(value / 0x800000000); rest > 0; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

function writeVarint(buffer: Buffer, position: number, value: number): number {
  if (value < 0) {
    let twos = BigInt.asUintN(64, BigInt(Math.trunc(value)));
    for (let i = 0; i < 9; i++, twos >>= 7n) buffer[position++] = Number(twos & 0x7fn) | 0x80;
    buffer[position++] = Number(twos);
    return position;
  }
  while (value >= 0x80) {
    buffer[position++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buffer[position++] = value;
  return position;
}

function scalar(field: FieldPlan, value: unknown): number {
  if (field.kind === 'varint') {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`response encoder: ${field.name} is not an integer`);
    return value;
  }
  if (typeof value !== 'boolean') throw new TypeError(`response encoder: ${field.name} is not a boolean`);
  return value ? 1 : 0;
}

/**
 * The sizes pass one found, in the order pass two meets them. One per encoder, reused by every call
 * (an encoding runs start to end synchronously): a page measures hundreds.
 */
interface Sizes {
  values: number[];
  /** Filled by pass one, read by pass two. */
  count: number;
  next: number;
}

/**
 * Pass one: the size of `value`'s encoding. Each nested message's size and each string's byte
 * length go to `sizes`, so that neither is computed twice. Both passes walk a repeated field's
 * array in place and take a single value as it is: they run for every field of every message of a
 * page, and allocate nothing.
 */
function measure(plan: MessagePlan, value: Record<string, unknown>, sizes: Sizes): number {
  let total = 0;
  for (const field of plan.fields) {
    const present = value[field.name];
    if (present === undefined || present === null) continue;
    if (!field.repeated) {
      total += measureOne(field, present, sizes);
      continue;
    }
    const items = present as unknown[];
    for (let i = 0; i < items.length; i++) total += measureOne(field, items[i], sizes);
  }
  return total;
}

function measureOne(field: FieldPlan, item: unknown, sizes: Sizes): number {
  let size: number;
  if (field.kind === 'string') {
    if (typeof item !== 'string') throw new TypeError(`response encoder: ${field.name} is not a string`);
    size = Buffer.byteLength(item, 'utf8');
    sizes.values[sizes.count++] = size;
    size += varintSize(size);
  } else if (field.kind === 'message') {
    const slot = sizes.count++;
    size = measure(field.message!, item as Record<string, unknown>, sizes);
    sizes.values[slot] = size;
    size += varintSize(size);
  } else {
    size = varintSize(scalar(field, item));
  }
  return field.key.length + size;
}

function write(plan: MessagePlan, value: Record<string, unknown>, buffer: Buffer, sizes: Sizes, at: { position: number }): void {
  for (const field of plan.fields) {
    const present = value[field.name];
    if (present === undefined || present === null) continue;
    if (!field.repeated) {
      writeOne(field, present, buffer, sizes, at);
      continue;
    }
    const items = present as unknown[];
    for (let i = 0; i < items.length; i++) writeOne(field, items[i], buffer, sizes, at);
  }
}

function writeOne(field: FieldPlan, item: unknown, buffer: Buffer, sizes: Sizes, at: { position: number }): void {
  const key = field.key;
  for (let i = 0; i < key.length; i++) buffer[at.position++] = key[i];
  if (field.kind === 'string') {
    const length = sizes.values[sizes.next++];
    at.position = writeVarint(buffer, at.position, length);
    at.position += buffer.write(item as string, at.position, length, 'utf8');
  } else if (field.kind === 'message') {
    at.position = writeVarint(buffer, at.position, sizes.values[sizes.next++]);
    write(field.message!, item as Record<string, unknown>, buffer, sizes, at);
  } else {
    at.position = writeVarint(buffer, at.position, scalar(field, item));
  }
}

/** The serializer of one message type of `definition` (by its full name). */
export function responseEncoder(definition: PackageDefinition, typeName: string): (value: object) => Buffer {
  const plan = compile(definition, typeName, new Map());
  const sizes: Sizes = { values: [], count: 0, next: 0 };
  return (value) => {
    sizes.count = 0;
    sizes.next = 0;
    const size = measure(plan, value as Record<string, unknown>, sizes);
    const buffer = Buffer.allocUnsafe(size);
    const at = { position: 0 };
    write(plan, value as Record<string, unknown>, buffer, sizes, at);
    if (at.position !== size) throw new Error(`response encoder: wrote ${at.position} of ${size} bytes of ${typeName}`);
    return buffer;
  };
}

/**
 * `definition` with every method of `serviceName` answering through `responseEncoder`. The request
 * side stays protobufjs's: its decoder is cheap next to a page of results.
 */
export function withResponseEncoders(definition: PackageDefinition, serviceName: string): PackageDefinition {
  const service = definition[serviceName] as ServiceDefinition | undefined;
  if (!service) throw new Error(`response encoder: no service ${serviceName}`);
  const encoded: ServiceDefinition = {};
  for (const [method, methodDefinition] of Object.entries(service)) {
    const responseType = resolve(definition, packageOf(serviceName), (methodDefinition.responseType.type as { name: string }).name);
    encoded[method] = { ...methodDefinition, responseSerialize: responseEncoder(definition, responseType) };
  }
  return { ...definition, [serviceName]: encoded };
}
