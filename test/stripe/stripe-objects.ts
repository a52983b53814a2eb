import type Stripe from 'stripe';

/**
 * The JSON shapes the server sends, typed against the SDK's own resource types so a field with the wrong name or
 * type fails `tsc`. Each is a `Pick` of the SDK type: the fields listed are the ones the server fills in; fields
 * not listed are absent from responses (not modelled). Expandable references are always ids (strings) on the wire;
 * `expand[]` replaces them at response time. Fields the SDK types as `Decimal` travel as decimal strings on the
 * wire (the SDK coerces them after parsing), hence the `string` overrides.
 */

export type Metadata = Record<string, string>;

export type CustomerObject = Pick<
  Stripe.Customer,
  | 'id'
  | 'object'
  | 'address'
  | 'balance'
  | 'created'
  | 'currency'
  | 'default_source'
  | 'delinquent'
  | 'description'
  | 'email'
  | 'invoice_prefix'
  | 'livemode'
  | 'metadata'
  | 'name'
  | 'phone'
  | 'preferred_locales'
  | 'shipping'
  | 'tax_exempt'
> & { invoice_settings: Omit<Stripe.Customer.InvoiceSettings, 'default_payment_method'> & { default_payment_method: string | null } };

export type DeletedObject<O extends string> = { id: string; object: O; deleted: true };

export type ProductObject = Pick<
  Stripe.Product,
  | 'id'
  | 'object'
  | 'active'
  | 'created'
  | 'description'
  | 'images'
  | 'livemode'
  | 'marketing_features'
  | 'metadata'
  | 'name'
  | 'package_dimensions'
  | 'shippable'
  | 'statement_descriptor'
  | 'tax_code'
  | 'tax_details'
  | 'type'
  | 'unit_label'
  | 'updated'
  | 'url'
> & { default_price: string | null };

export interface TierObject {
  flat_amount: number | null;
  flat_amount_decimal: string | null;
  unit_amount: number | null;
  unit_amount_decimal: string | null;
  up_to: number | null;
}

export type PriceObject = Pick<
  Stripe.Price,
  | 'id'
  | 'object'
  | 'active'
  | 'billing_scheme'
  | 'created'
  | 'currency'
  | 'custom_unit_amount'
  | 'livemode'
  | 'lookup_key'
  | 'metadata'
  | 'nickname'
  | 'recurring'
  | 'tax_behavior'
  | 'tiers_mode'
  | 'transform_quantity'
  | 'type'
  | 'unit_amount'
> & {
  product: string;
  unit_amount_decimal: string | null;
  /** Stripe only includes `tiers` when the request expands it (`expand[]=tiers`). */
  tiers?: TierObject[];
};

export type MeterObject = Stripe.Billing.Meter;
export type MeterEventObject = Stripe.Billing.MeterEvent;
export type MeterEventSummaryObject = Stripe.Billing.MeterEventSummary;

export type SubscriptionItemObject = Pick<
  Stripe.SubscriptionItem,
  'id' | 'object' | 'billing_thresholds' | 'created' | 'current_period_end' | 'current_period_start' | 'discounts' | 'metadata' | 'quantity' | 'subscription' | 'tax_rates'
> & { price: PriceObject };

export interface ListObject<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export type SubscriptionObject = Pick<
  Stripe.Subscription,
  | 'id'
  | 'object'
  | 'billing_cycle_anchor'
  | 'cancel_at'
  | 'cancel_at_period_end'
  | 'canceled_at'
  | 'cancellation_details'
  | 'collection_method'
  | 'created'
  | 'currency'
  | 'days_until_due'
  | 'description'
  | 'ended_at'
  | 'livemode'
  | 'metadata'
  | 'pause_collection'
  | 'pending_update'
  | 'start_date'
  | 'status'
  | 'trial_end'
  | 'trial_start'
> & {
  customer: string;
  default_payment_method: string | null;
  items: ListObject<SubscriptionItemObject>;
  latest_invoice: string | null;
};

export type InvoiceLineItemObject = Pick<
  Stripe.InvoiceLineItem,
  'id' | 'object' | 'amount' | 'currency' | 'description' | 'discount_amounts' | 'discountable' | 'discounts' | 'livemode' | 'metadata' | 'period' | 'pretax_credit_amounts' | 'quantity' | 'subtotal' | 'taxes'
> & {
  invoice: string | null;
  subscription: string | null;
  parent: {
    type: 'subscription_item_details' | 'invoice_item_details';
    subscription_item_details: Omit<Stripe.InvoiceLineItem.Parent.SubscriptionItemDetails, 'proration_details'> & { proration_details: null } | null;
    invoice_item_details: Omit<Stripe.InvoiceLineItem.Parent.InvoiceItemDetails, 'proration_details'> & { proration_details: null } | null;
  };
  pricing: { type: 'price_details'; price_details: { price: string; product: string }; unit_amount_decimal: string | null };
  quantity_decimal: string | null;
};

export type InvoiceObject = Pick<
  Stripe.Invoice,
  | 'id'
  | 'object'
  | 'account_country'
  | 'account_name'
  | 'amount_due'
  | 'amount_overpaid'
  | 'amount_paid'
  | 'amount_remaining'
  | 'amount_shipping'
  | 'attempt_count'
  | 'attempted'
  | 'auto_advance'
  | 'automatically_finalizes_at'
  | 'billing_reason'
  | 'collection_method'
  | 'created'
  | 'currency'
  | 'customer_email'
  | 'customer_name'
  | 'description'
  | 'due_date'
  | 'effective_at'
  | 'ending_balance'
  | 'hosted_invoice_url'
  | 'invoice_pdf'
  | 'livemode'
  | 'metadata'
  | 'next_payment_attempt'
  | 'number'
  | 'period_end'
  | 'period_start'
  | 'post_payment_credit_notes_amount'
  | 'pre_payment_credit_notes_amount'
  | 'starting_balance'
  | 'status'
  | 'status_transitions'
  | 'subtotal'
  | 'subtotal_excluding_tax'
  | 'total'
  | 'total_discount_amounts'
  | 'total_excluding_tax'
  | 'total_taxes'
  | 'webhooks_delivered_at'
> & {
  customer: string;
  default_payment_method: string | null;
  lines: ListObject<InvoiceLineItemObject>;
  parent: { type: 'subscription_details'; quote_details: null; subscription_details: { metadata: Metadata | null; subscription: string } } | null;
};

/** An invoice item that is not on an invoice yet (Stripe's pending `invoiceitem`, e.g. a proration). */
export interface PendingInvoiceItem {
  id: string;
  customer: string;
  subscription: string | null;
  subscriptionItem: string | null;
  price: PriceObject;
  amount: number;
  quantity: number;
  description: string;
  period: { start: number; end: number };
  proration: boolean;
}

export type CheckoutSessionObject = Pick<
  Stripe.Checkout.Session,
  | 'id'
  | 'object'
  | 'amount_subtotal'
  | 'amount_total'
  | 'cancel_url'
  | 'client_reference_id'
  | 'created'
  | 'currency'
  | 'customer_email'
  | 'expires_at'
  | 'livemode'
  | 'metadata'
  | 'mode'
  | 'payment_method_types'
  | 'payment_status'
  | 'status'
  | 'success_url'
  | 'ui_mode'
  | 'url'
> & {
  customer: string | null;
  setup_intent: string | null;
  subscription: string | null;
  invoice: string | null;
  return_url?: string;
};

export type BillingPortalSessionObject = Pick<
  Stripe.BillingPortal.Session,
  'id' | 'object' | 'created' | 'customer' | 'customer_account' | 'flow' | 'livemode' | 'locale' | 'on_behalf_of' | 'return_url' | 'url'
> & { configuration: string };

/** `data.object` is a snapshot of the object when the event happened, as in Stripe. */
export type EventObject = Pick<Stripe.Event, 'id' | 'object' | 'api_version' | 'created' | 'livemode' | 'pending_webhooks' | 'request'> & {
  type: string;
  data: { object: object; previous_attributes?: Record<string, unknown> };
};
