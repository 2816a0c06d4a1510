// Workflows of the payments demo: ordinary Temporal code, no governance imports.
import { allHandlersFinished, condition, defineQuery, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities';

const { lookupExchangeRate, chargeCard, sendReceipt } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

export async function payInvoice(charge: activities.Charge): Promise<string> {
  const rate = await lookupExchangeRate(charge.currency, 'EUR');
  const chargeId = await chargeCard(charge);
  await sendReceipt(charge.invoiceId, chargeId);
  return `${chargeId} (${(charge.amount * rate).toFixed(2)} EUR)`;
}

/** Tries to swallow a failed charge and report success anyway. Governance still fails it. */
export async function payInvoiceIgnoringErrors(charge: activities.Charge): Promise<string> {
  try {
    return await chargeCard(charge);
  } catch {
    return 'charge failed, marked as paid anyway';
  }
}

/** An approval names the invoice it approves: one meant for another invoice approves nothing. */
export interface Approval {
  invoiceId: string;
}

export type InvoiceStatus = 'awaiting approval' | 'approved' | 'charged';

/** Approves the held invoice (fire and forget). */
export const approveSignal = defineSignal<[Approval]>('approve');
/** Approves the held invoice and returns the charge id once the card is charged. */
export const approveAndChargeUpdate = defineUpdate<string, [Approval]>('approveAndCharge');
export const invoiceStatusQuery = defineQuery<InvoiceStatus>('status');

/**
 * Holds an invoice until it is approved (signal `approve` or update `approveAndCharge`), then pays
 * it. Who may approve is the policy's business, not this code's: a handler here only ever runs
 * for an approval governance admitted, on the sender's own API key.
 */
export async function payInvoiceOnApproval(charge: activities.Charge): Promise<string> {
  let approved = false;
  let chargeId: string | undefined;
  setHandler(approveSignal, ({ invoiceId }) => {
    if (invoiceId === charge.invoiceId) approved = true;
  });
  setHandler(
    approveAndChargeUpdate,
    async () => {
      approved = true;
      await condition(() => chargeId !== undefined);
      return chargeId!;
    },
    {
      validator: ({ invoiceId }) => {
        if (invoiceId !== charge.invoiceId) throw new Error(`this workflow holds invoice ${charge.invoiceId}, not ${invoiceId}`);
      },
    },
  );
  setHandler(invoiceStatusQuery, () => (chargeId !== undefined ? 'charged' : approved ? 'approved' : 'awaiting approval'));
  await condition(() => approved);
  const rate = await lookupExchangeRate(charge.currency, 'EUR');
  chargeId = await chargeCard(charge);
  await sendReceipt(charge.invoiceId, chargeId);
  await condition(allHandlersFinished);
  return `${chargeId} (${(charge.amount * rate).toFixed(2)} EUR)`;
}
