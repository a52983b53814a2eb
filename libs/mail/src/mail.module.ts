import { Module } from '@nestjs/common';
import { PlatformMailer } from './platform-mailer';

/** Provides {@link PlatformMailer}; import it where jobs send Plinth's own emails (one instance, one pool). */
@Module({
  providers: [PlatformMailer],
  exports: [PlatformMailer],
})
export class MailModule {}
