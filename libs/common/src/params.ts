import { Injectable, Param, PipeTransform } from '@nestjs/common';
import { PlinthException } from './plinth.exception';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id can't name anything, so it is "not found" rather than a validation error. */
@Injectable()
class UuidOr404 implements PipeTransform {
  constructor(private readonly label: string) {}
  transform(value: string): string {
    if (!UUID.test(value)) throw PlinthException.notFound(this.label);
    return value.toLowerCase();
  }
}

/** Route parameter that must be a UUID; anything else is a 404 naming `label`. */
export const UuidParam = (name: string, label: string) => Param(name, new UuidOr404(label));
