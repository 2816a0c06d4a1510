// The governance worker's data converter: the application's own payload converter and codecs, so it
// reads the plaintext arguments it evaluates and digests (docs/codecs.md), guarded so that a payload
// it cannot read fails with one clear, typed error instead of an opaque "Unknown encoding".
import { ApplicationFailure, defaultPayloadConverter, METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec, type PayloadConverter } from '@temporalio/common';

/**
 * The failure type of an undecodable payload. It is the type the workflow interceptors never retry
 * (the SDK keeps an ApplicationFailure's type when it wraps a decoding error), so a governed call
 * facing a governance worker with the wrong data converter is denied at once, after one attempt and
 * one log line, not after every retry until the authorization timeout.
 */
export const UNDECODABLE_PAYLOAD_FAILURE = 'GovernanceMalformedRequest';

const MAX_DETAIL_CHARS = 120;
const shorten = (text: string) => (text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}...` : text);

export class DataConverterConfigError extends Error {
  override readonly name = 'DataConverterConfigError';
}

/** The payload converter the SDK loads from `payloadConverterPath` (the same module, so the same instance). */
export function payloadConverterOf(dataConverter: DataConverter | undefined): PayloadConverter {
  const path = dataConverter?.payloadConverterPath;
  if (!path) return defaultPayloadConverter;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = (require(path) as { payloadConverter?: PayloadConverter }).payloadConverter;
  if (!loaded || typeof loaded.toPayload !== 'function' || typeof loaded.fromPayload !== 'function') {
    throw new DataConverterConfigError(`payloadConverterPath ${path} must export a payloadConverter with toPayload and fromPayload`);
  }
  return loaded;
}

function encodingOf(payload: Payload): string {
  const raw = payload.metadata?.[METADATA_ENCODING_KEY];
  return raw ? new TextDecoder().decode(raw) : '<none>';
}

/** Why `converter` cannot read a (codec-decoded) payload, or undefined when it can. */
function readabilityCheck(converter: PayloadConverter): (payload: Payload) => string | undefined {
  const byEncoding = (converter as { converterByEncoding?: unknown }).converterByEncoding;
  if (byEncoding instanceof Map) {
    // A composite converter (the default and most custom ones) reads exactly its encodings: no trial decode.
    const known = [...byEncoding.keys()].join(', ');
    return (payload) => {
      const encoding = encodingOf(payload);
      return byEncoding.has(encoding) ? undefined : `its encoding ${JSON.stringify(shorten(encoding))} is not one its payload converter reads (${known})`;
    };
  }
  return (payload) => {
    try {
      converter.fromPayload(payload);
      return undefined;
    } catch (err) {
      return `its payload converter cannot read it (encoding ${JSON.stringify(shorten(encodingOf(payload)))}: ${shorten(String((err as Error)?.message ?? err))})`;
    }
  };
}

function undecodable(why: string): ApplicationFailure {
  return ApplicationFailure.create({
    // Retryable as such (a persist of lineage may land on a well-configured worker next time); the
    // authorization activity's retry policy stops at this type.
    type: UNDECODABLE_PAYLOAD_FAILURE,
    message:
      `governance cannot decode a payload: ${why}. The governance worker's data converter does not match the one that encoded it: ` +
      'give createGovernanceWorker the same dataConverter (payload codecs and payload converter, with the codec keys) as your clients and workers (docs/codecs.md)',
  });
}

/**
 * `dataConverter` with its codecs wrapped in one guard: encoding is unchanged (the codecs in order);
 * decoding runs them in reverse, as the SDK does, then checks the payload converter can read every
 * result. A codec that fails (a wrong key) or a payload still encoded (no codec) raises
 * {@link UNDECODABLE_PAYLOAD_FAILURE} naming the encoding, never the payload.
 */
export function guardedDataConverter(dataConverter: DataConverter | undefined): DataConverter {
  const codecs = dataConverter?.payloadCodecs ?? [];
  const readable = readabilityCheck(payloadConverterOf(dataConverter));
  const guard: PayloadCodec = {
    async encode(payloads, context) {
      for (const codec of codecs) payloads = await codec.encode(payloads, context);
      return payloads;
    },
    async decode(payloads, context) {
      let decoded = payloads;
      try {
        for (let i = codecs.length - 1; i >= 0; i--) decoded = await codecs[i]!.decode(decoded, context);
      } catch (err) {
        throw undecodable(`a payload codec failed to decode it (${shorten(`${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`)})`);
      }
      for (const payload of decoded) {
        const problem = readable(payload);
        if (problem) throw undecodable(problem);
      }
      return decoded;
    },
  };
  return { ...dataConverter, payloadCodecs: [guard] };
}
