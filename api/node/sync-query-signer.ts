/**
 * SigV4 query signing (presigned URLs) with node:crypto's synchronous HMAC and SHA-256: aws4fetch's signer builds
 * the canonical request (so URLs are exactly aws4fetch's, test/api/sync-query-signer.test.ts), and the few hashes are
 * computed here instead of through WebCrypto, whose every call is a trip through the thread pool. A presign then
 * never yields to the event loop: a lease or a frame event that presigns is answered without other requests' work
 * slipping in between (on a busy API that was several milliseconds per URL).
 */
import { createHash, createHmac } from 'node:crypto';
import { AwsV4Signer } from 'aws4fetch';

/** Signing keys by secret, date, region and service (one a day per store). */
const signingKeys = new Map<string, Buffer>();

/** An AwsV4Signer whose signature is computed synchronously (query signing only: no body hash to compute). */
export class SyncQuerySigner extends AwsV4Signer {
  constructor(init: ConstructorParameters<typeof AwsV4Signer>[0]) {
    super({ ...init, signQuery: true });
  }

  /** The signature, computed without leaving this tick (the canonical string is aws4fetch's). */
  override async signature(): Promise<string> {
    return this.signatureSync(await this.canonicalString());
  }

  signatureSync(canonical: string): string {
    const date = this.datetime.slice(0, 8);
    const cacheKey = [this.secretAccessKey, date, this.region, this.service].join();
    let key = signingKeys.get(cacheKey);
    if (!key) {
      const kDate = createHmac('sha256', `AWS4${this.secretAccessKey}`).update(date).digest();
      const kRegion = createHmac('sha256', kDate).update(this.region).digest();
      const kService = createHmac('sha256', kRegion).update(this.service).digest();
      key = createHmac('sha256', kService).update('aws4_request').digest();
      if (signingKeys.size > 64) signingKeys.clear();
      signingKeys.set(cacheKey, key);
    }
    const toSign = ['AWS4-HMAC-SHA256', this.datetime, this.credentialString, createHash('sha256').update(canonical).digest('hex')].join('\n');
    return createHmac('sha256', key).update(toSign).digest('hex');
  }
}
