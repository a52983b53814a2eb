import { Controller, Get, Headers, HttpCode, Post, Put, Req } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiEndpoint, ApiZodBody, emptyBody, UuidParam, ZodBody } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import { ChangePlanInput, changePlanSchema } from './billing.dto';
import { billingOverviewSchema, checkoutSessionSchema, invoiceSchema, planChangeSchema, portalSessionSchema } from './billing.responses';
import { BillingService } from './billing.service';
import { z } from 'zod';
import { StripeEventsService } from './stripe-events.service';

@ApiTags('billing')
@Controller('v1/orgs/:orgId')
@ConsoleApi()
export class BillingController {
  constructor(private readonly billing: BillingService) {}

  /** Plan, period, usage to date per meter, included, overage, cost so far and projected. */
  @ApiEndpoint({ summary: 'Billing overview', description: 'Plan, period, usage to date per meter with included amounts, overage, cost so far and projected, subscription, payment method and delinquency.', response: billingOverviewSchema })
  @Get('billing')
  @RequirePermission('read', 'Billing')
  overview(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.billing.overview(p, orgId);
  }

  /** Invoices, newest first, with lines per meter and per project. */
  @ApiEndpoint({ summary: 'List invoices', description: 'Invoices, newest first, with lines per meter and per project (from Stripe, or the local ledger without Stripe).', response: z.array(invoiceSchema) })
  @Get('invoices')
  @RequirePermission('read', 'Billing')
  invoices(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.billing.invoices(p, orgId);
  }

  /** Upgrade now (prorated), downgrade at period end. */
  @ApiEndpoint({ summary: 'Change plan', description: 'Upgrades at once (prorated) or downgrades at the period end; choosing the current plan cancels a pending downgrade.', response: planChangeSchema })
  @Put('billing/plan')
  @RequirePermission('update', 'Billing')
  @ApiZodBody(changePlanSchema)
  changePlan(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string, @ZodBody(changePlanSchema) body: ChangePlanInput) {
    return this.billing.changePlan(p, orgId, body.plan);
  }

  /** A Stripe Checkout Session (setup mode) to add a payment method. */
  @ApiEndpoint({ summary: 'Add a payment method', description: 'A Stripe Checkout Session (setup mode) to add a payment method; 409 in ledger-only mode.', status: 201, response: checkoutSessionSchema })
  @Post('billing/checkout-session')
  @RequirePermission('update', 'Billing')
  @ApiZodBody(emptyBody)
  checkout(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string, @ZodBody(emptyBody.optional()) _body: unknown) {
    return this.billing.checkoutSession(p, orgId);
  }

  /** A Stripe Customer Portal session. */
  @ApiEndpoint({ summary: 'Open the billing portal', description: 'A Stripe Customer Portal session (payment methods, invoices); 409 in ledger-only mode.', status: 201, response: portalSessionSchema })
  @Post('billing/portal-session')
  @RequirePermission('update', 'Billing')
  @ApiZodBody(emptyBody)
  portal(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string, @ZodBody(emptyBody.optional()) _body: unknown) {
    return this.billing.portalSession(p, orgId);
  }
}

/** Stripe's webhook endpoint: signed, not a console route. */
@Controller('v1/billing/stripe')
export class StripeWebhookController {
  constructor(private readonly events: StripeEventsService) {}

  @Post('webhook')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  webhook(@Req() req: Request & { rawBody?: Buffer }, @Headers('stripe-signature') signature: string | undefined) {
    return this.events.receive(req.rawBody, signature);
  }
}
