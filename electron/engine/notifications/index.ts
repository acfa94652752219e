/** Notifications that leave the machine: webhooks, heartbeats and e-mail (docs/NOTIFICATIONS.md). */
export * from './channels.ts';
export * from './events.ts';
export * from './notifier.ts';
export * from './smtp-settings.ts';
export { deliver, heartbeatUrl, webhookBody } from './deliver.ts';
