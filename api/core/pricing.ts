/** The rates a price quote uses (`POST /v1/quote`, quote-job.ts), with their defaults. */
export interface PricingOptions {
  /** Price of one second of node compute time. */
  perRenderSecond: number;
  /** Price of one million rendered pixels (supersampled pixels count). */
  perMegapixel: number;
  currency: string;
}

export const PRICING_DEFAULTS: PricingOptions = { perRenderSecond: 0.0004, perMegapixel: 0.0002, currency: 'USD' };
