// Receiver process: read config, connect Redis, serve the webhook, shut down cleanly on SIGTERM.
import { loadReceiverConfig } from '@staticreg/config';
import { createLogger } from '@staticreg/log';
import { closeServer, listen, onShutdownSignal, runMain } from '@staticreg/http';
import { createReceiver } from './receiver.js';

async function main(): Promise<void> {
  const config = loadReceiverConfig();
  const log = createLogger('receiver', config.logLevel);
  const receiver = createReceiver(config, log);
  const server = await listen(receiver.app, config.port, config.bind);
  log.info(
    {
      port: config.port,
      bind: config.bind,
      auth: config.webhookToken ? 'bearer' : 'none',
      allowedNetworks: config.allowedNetworks.map((range) => `${range.network}/${range.prefix}`),
      metricsAuth: config.metricsToken ? 'bearer' : 'none',
      ignoredUserAgents: config.ignoredUserAgents,
    },
    'Receiver listening',
  );
  if (config.allowUnauthenticated) {
    log.warn(
      { variable: 'STATICREG_WEBHOOK_ALLOW_UNAUTHENTICATED' },
      'Webhook accepts notifications without a token: anyone who reaches this port can add pulls; set STATICREG_WEBHOOK_TOKEN',
    );
  }

  onShutdownSignal(log, async () => {
    receiver.shutDown();
    await closeServer(server);
    await receiver.close();
  });
}

runMain('receiver', main);
