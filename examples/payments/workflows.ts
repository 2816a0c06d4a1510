// Workflows of the payments demo: ordinary Temporal code, no governance imports.
import { proxyActivities } from '@temporalio/workflow';
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
