// Sequence classification with an LSTM: each Fashion-MNIST image is read as a sequence of 28 rows of 28 pixels,
// and the last hidden state is classified. Run: node examples/lstm-rows.js [--epochs 3] [--limit 60000]
import * as T from '../dist/index.js';

const { nn, optim, data } = T;
const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const epochs = arg('epochs', 3), limit = arg('limit', 60000);

class RowLSTM extends nn.Module {
  lstm = new nn.LSTM(28, 128, { batchFirst: true });
  head = new nn.Linear(128, 10);
  forward(x) {
    const seq = x.reshape([x.shape[0], 28, 28]);           // [N, 28 rows, 28 pixels]
    const [, [h]] = this.lstm.run(seq);                    // h: [layers=1, N, 128]
    return this.head.forward(h.squeeze(0));
  }
}
T.manualSeed(0);
const model = new RowLSTM();
const train = (await data.datasets.fashionMnist({ split: 'train' })).take(limit);
const test = await data.datasets.fashionMnist({ split: 'test' });
const shapes = { x: [1, 28, 28] };
const history = await T.fit(model, new data.DataLoader(train, { batchSize: 128, shuffle: true, seed: 1, shapes }), {
  epochs, optimizer: new optim.Adam(model.parameters(), { lr: 2e-3 }),
  validation: new data.DataLoader(test, { batchSize: 1000, shapes }),
});
console.log(`LSTM over rows: test accuracy ${(100 * history.epochs.at(-1).valAccuracy).toFixed(2)}%`);
