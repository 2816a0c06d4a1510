// The governance worker's guarded data converter, and the digest of decoded arguments.
import { randomBytes } from 'node:crypto';
import { ApplicationFailure, defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { argumentsDigest, ArgumentDigestError, decodedArgumentsDigest } from '../../src/common/digest';
import { DataConverterConfigError, guardedDataConverter, payloadConverterOf, UNDECODABLE_PAYLOAD_FAILURE } from '../../src/worker/data-converter';
import { AesGcmCodec, ENCRYPTED_ENCODING } from '../fixtures/encryption-codec';
import { Money, payloadConverter as taggedConverter, TAGGED_ENCODING } from '../fixtures/tagged-payload-converter';

const taggedPath = require.resolve('../fixtures/tagged-payload-converter');
const strictPath = require.resolve('../fixtures/strict-payload-converter');
const encodingOf = (p: Payload) => new TextDecoder().decode(p.metadata![METADATA_ENCODING_KEY]);
const context = { type: 'workflow' as const, namespace: 'default', workflowId: 'wf' };

async function decodeFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).type).toBe(UNDECODABLE_PAYLOAD_FAILURE);
  return err as ApplicationFailure;
}

describe('guardedDataConverter', () => {
  const codec = new AesGcmCodec(randomBytes(32), 'k1');
  const value = { price: new Money(12, 'EUR'), at: new Date(0) };

  test('encodes and decodes exactly like the codecs it wraps', async () => {
    const [guard] = guardedDataConverter({ payloadConverterPath: taggedPath, payloadCodecs: [codec] }).payloadCodecs!;
    const [encoded] = await guard!.encode([taggedConverter.toPayload(value)!], context);
    expect(encodingOf(encoded!)).toBe(ENCRYPTED_ENCODING);
    const [decoded] = await guard!.decode([encoded!], context);
    expect(encodingOf(decoded!)).toBe(TAGGED_ENCODING);
    expect(taggedConverter.fromPayload(decoded!)).toEqual(value);
    // and a codec decodes what the guard encoded: nothing of its own is added on the wire
    expect(encodingOf((await codec.decode([encoded!]))[0]!)).toBe(TAGGED_ENCODING);
  });

  test('without the codec, an encrypted payload fails typed, naming its encoding and the mismatch, not the payload', async () => {
    const [encrypted] = await codec.encode([taggedConverter.toPayload(value)!]);
    const [guard] = guardedDataConverter({ payloadConverterPath: taggedPath }).payloadCodecs!;
    const failure = await decodeFailure(guard!.decode([encrypted!], context));
    expect(failure.message).toContain(`"${ENCRYPTED_ENCODING}"`);
    expect(failure.message).toContain(TAGGED_ENCODING); // what it does read
    expect(failure.message).toContain('data converter does not match');
    expect(failure.message).toContain('createGovernanceWorker');
    expect(failure.message).not.toContain(Buffer.from(encrypted!.data!).toString('base64').slice(0, 16));
  });

  test('without the custom payload converter, its encoding fails typed too', async () => {
    const [guard] = guardedDataConverter({ payloadCodecs: [codec] }).payloadCodecs!;
    const [encrypted] = await codec.encode([taggedConverter.toPayload(value)!]);
    const failure = await decodeFailure(guard!.decode([encrypted!], context));
    expect(failure.message).toContain(`"${TAGGED_ENCODING}" is not one its payload converter reads (binary/null, binary/plain, json/plain)`);
  });

  test('a codec that cannot decode (another key) fails typed, naming the codec', async () => {
    const [sealed] = await new AesGcmCodec(randomBytes(32), 'k2').encode([defaultPayloadConverter.toPayload('secret-value')!]);
    const [guard] = guardedDataConverter({ payloadCodecs: [codec] }).payloadCodecs!;
    const failure = await decodeFailure(guard!.decode([sealed!], context));
    expect(failure.message).toContain('a payload codec failed to decode it (Error: Unsupported state or unable to authenticate data)');
    expect(failure.message).not.toContain('secret-value');
  });

  test('a converter without an encoding map is asked to read each payload', async () => {
    const [guard] = guardedDataConverter({ payloadConverterPath: strictPath }).payloadCodecs!;
    const plain = defaultPayloadConverter.toPayload({ a: 1 })!;
    expect(await guard!.decode([plain], context)).toEqual([plain]);
    const failure = await decodeFailure(guard!.decode([defaultPayloadConverter.toPayload(new Uint8Array([1]))!], context));
    expect(failure.message).toContain('its payload converter cannot read it (encoding "binary/plain": strict converter reads json/plain only, not binary/plain)');
  });

  test('codecs run in the SDK order: encode first to last, decode last to first', async () => {
    const calls: string[] = [];
    const tag = (name: string) => ({
      encode: async (ps: Payload[]) => (calls.push(`encode ${name}`), ps),
      decode: async (ps: Payload[]) => (calls.push(`decode ${name}`), ps),
    });
    const [guard] = guardedDataConverter({ payloadCodecs: [tag('a'), tag('b')] }).payloadCodecs!;
    const payload = defaultPayloadConverter.toPayload(1)!;
    await guard!.decode(await guard!.encode([payload], context), context);
    expect(calls).toEqual(['encode a', 'encode b', 'decode b', 'decode a']);
  });

  test('a payloadConverterPath without a payloadConverter export is refused at start', () => {
    expect(() => payloadConverterOf({ payloadConverterPath: require.resolve('../fixtures/encryption-codec') })).toThrow(DataConverterConfigError);
    expect(payloadConverterOf(undefined)).toBe(defaultPayloadConverter);
  });
});

class SealedCard {
  readonly #number: string;
  constructor(number: string) {
    this.#number = number;
  }
  last4(): string {
    return this.#number.slice(-4);
  }
}

describe('decodedArgumentsDigest', () => {
  test('is the argument digest for everything the JSON view covers, revived class instances and Dates included', () => {
    const args = [new Money(5, 'EUR'), new Date(Date.UTC(2026, 1, 3)), { nested: [new Uint8Array([1, 2]), null, 'x'] }, undefined, new Uint8Array([9])];
    expect(decodedArgumentsDigest(args)).toBe(argumentsDigest(args));
    // A revived Money digests like the plain object the default converter would have delivered.
    expect(decodedArgumentsDigest([new Money(5, 'EUR')])).toBe(argumentsDigest([{ amount: 5, currency: 'EUR' }]));
    // Plain objects without prototype, and an empty plain object, are what they show.
    expect(decodedArgumentsDigest([Object.create(null), {}])).toBe(argumentsDigest([{}, {}]));
  });

  test.each([
    ['a Map', [{ items: [new Map([['amount', 5000]])] }], 'argument 0.items[0] decodes to a Map'],
    ['a Set', ['x', new Set([1])], 'argument 1 decodes to a Set'],
    ['an ArrayBuffer', [{ raw: new ArrayBuffer(4) }], 'argument 0.raw decodes to an ArrayBuffer'],
    ['a DataView', [[new DataView(new ArrayBuffer(2))]], 'argument 0[0] decodes to a DataView'],
    ['a RegExp', [{ pattern: /^INV-\d+$/ }], 'argument 0.pattern decodes to a RegExp whose JSON form is {}'],
    ['an Error', [new Error('boom')], 'argument 0 decodes to a Error whose JSON form is {}'],
    ['a class with #private state only', [{ card: new SealedCard('4111') }], 'argument 0.card decodes to a SealedCard whose JSON form is {}'],
  ])('refuses %s, whose contents JSON drops', (_name, args, message) => {
    expect(() => decodedArgumentsDigest(args)).toThrow(ArgumentDigestError);
    expect(() => decodedArgumentsDigest(args)).toThrow(message);
    expect(() => argumentsDigest(args)).not.toThrow(); // the workflow side digests it as {} (what the default converter delivers)
  });
});
