// kafkajs 2.2 against a kzero broker, run by server/tests/it/clients.rs: admin (create, list, describe
// configs, offsets, delete) and an idempotent producer with every codec kafkajs has built in (none, gzip).
// Usage: node kafkajs.js BOOTSTRAP; prints "OK kafkajs" on success, exits non-zero otherwise.
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const kafka = new Kafka({ clientId: 'kzero-kafkajs', brokers: [process.argv[2]], logLevel: logLevel.WARN })
const assert = (ok, what) => { if (!ok) throw new Error(`assertion failed: ${what}`) }

;(async () => {
  const admin = kafka.admin()
  await admin.connect()
  const topic = `kjs-${Date.now()}`
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
  assert((await admin.listTopics()).includes(topic), 'the topic is listed')
  const meta = await admin.fetchTopicMetadata({ topics: [topic] })
  assert(meta.topics[0].partitions.length === 2, 'two partitions')

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  let sent = 0
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    const messages = []
    for (let i = 0; i < 50; i++) {
      messages.push({ partition: i % 2, key: i % 10 === 0 ? null : `key-${i}`, value: i === 7 ? null : `value-${i}`, headers: { h: `v${i}` } })
    }
    const result = await producer.send({ topic, compression, acks: -1, messages })
    assert(result.every(r => r.errorCode === 0), `produce with codec ${compression}`)
    sent += messages.length
  }
  const offsets = await admin.fetchTopicOffsets(topic)
  const total = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
  assert(total === sent, `offsets count ${total} records, ${sent} were sent`)

  const configs = await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false })
  const retention = configs.resources[0].configEntries.find(e => e.configName === 'retention.ms')
  assert(retention && retention.configValue === '604800000', 'retention.ms is described')

  await admin.deleteTopics({ topics: [topic] })
  assert(!(await admin.listTopics()).includes(topic), 'the topic is gone')
  await producer.disconnect()
  await admin.disconnect()
  console.log('OK kafkajs')
})().catch(e => { console.error('FAILED', e); process.exit(1) })
