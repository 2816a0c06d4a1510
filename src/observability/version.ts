// The package's own name and version, for the OpenTelemetry meter and tracer (instrumentation scope).
import { findPackageVersion, PACKAGE_NAME } from '../package-info';

export { PACKAGE_NAME };

/** The installed version of temporal-governance; 'unknown' if its package.json cannot be found. */
export function packageVersion(): string {
  try {
    return findPackageVersion() ?? 'unknown';
  } catch {
    return 'unknown'; // an unreadable package.json must not stop instrumentation
  }
}
