// Feeds the tray and the notifications from the connections' statuses: keeps the newest status
// per connection, redraws the tray when what it shows changes, and hands over a notice for each
// condition raised. Re-evaluated on every status and on a clock tick (the countdown moves, and
// "Intuit unreachable for 10 minutes" becomes true with no new status). No electron import.
import type { TokenStatus } from '../shared/contract';
import { ConditionNotifier, type Notice } from './condition-notifier';
import { presentTray, type TrayPresentation } from './tray-presentation';

interface IndicatorOutputs {
  showTray(presentation: TrayPresentation): void;
  notify(notice: Notice): void;
}

interface IndicatorOptions {
  now?: () => number;
  notificationsEnabled: () => boolean;
}

export class DesktopIndicators {
  private readonly latest = new Map<string, TokenStatus>();
  private readonly notifier = new ConditionNotifier();
  private shown: string | null = null;
  private readonly now: () => number;

  constructor(
    private readonly outputs: IndicatorOutputs,
    private readonly options: IndicatorOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** A connection's new status (a push from the engine). */
  update(status: TokenStatus): void {
    this.latest.set(status.connection.id, status);
    this.evaluate();
  }

  /** Only these connections remain (others were removed): the tray and notices forget the rest. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of [...this.latest.keys()]) if (!ids.has(id)) this.latest.delete(id);
    this.evaluate();
  }

  /** The clock moved. */
  tick(): void {
    this.evaluate();
  }

  /** Redraw the tray even if its text did not change (a setting shown in its menu did). */
  redraw(): void {
    this.shown = null;
    this.evaluate();
  }

  statuses(): TokenStatus[] {
    return [...this.latest.values()];
  }

  private evaluate(): void {
    const statuses = this.statuses();
    const now = this.now();
    const presentation = presentTray(statuses, now);
    const key = JSON.stringify(presentation);
    if (key !== this.shown) {
      this.shown = key;
      this.outputs.showTray(presentation);
    }
    for (const notice of this.notifier.update(statuses, now, this.options.notificationsEnabled())) {
      this.outputs.notify(notice);
    }
  }
}
