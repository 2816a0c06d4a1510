// Activities of the payments demo. None of them knows about governance.
export interface Charge {
  invoiceId: string;
  amount: number;
  currency: string;
  country: string;
}

/** Observed side effects, so the demo can show which protected bodies actually ran. */
export const sideEffects: string[] = [];

export async function lookupExchangeRate(from: string, to: string): Promise<number> {
  return from === to ? 1 : 1.08;
}

export async function chargeCard(charge: Charge): Promise<string> {
  sideEffects.push(`chargeCard:${charge.invoiceId}`);
  return `ch_${charge.invoiceId}`;
}

export async function sendReceipt(invoiceId: string, chargeId: string): Promise<void> {
  sideEffects.push(`sendReceipt:${invoiceId}:${chargeId}`);
}
