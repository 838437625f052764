// kafkajs 2.2 with SASL SCRAM-SHA-256 against a kzero broker's SASL_PLAINTEXT listener, run by
// server/tests/it/security.rs: as admin (a super user) it creates a topic, produces, consumes in a group and
// commits; a wrong password is refused with the broker's message.
// Usage: node kafkajs_sasl.js SASL_BOOTSTRAP; prints "OK kafkajs_sasl" on success, exits non-zero otherwise.
const { Kafka, logLevel } = require('kafkajs')

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const broker = process.argv[2]
const client = (password) => new Kafka({
  clientId: 'kzero-kafkajs-sasl',
  brokers: [broker],
  sasl: { mechanism: 'scram-sha-256', username: 'admin', password },
  logLevel: logLevel.NOTHING,
  retry: { retries: 0 },
})
const assert = (ok, what) => { if (!ok) throw new Error(`assertion failed: ${what}`) }

;(async () => {
  // A wrong password: the broker's SaslAuthenticate error, as kafkajs reports it.
  const refused = client('not-the-password').admin()
  let error = null
  try {
    await refused.connect()
  } catch (e) {
    error = e
  }
  assert(error !== null, 'a wrong password was accepted')
  const expected = 'SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to ' +
    'invalid credentials with SASL mechanism SCRAM-SHA-256'
  assert(error.name === 'KafkaJSSASLAuthenticationError' && error.message === expected,
    `refused with ${error.name}: ${error.message}`)
  await refused.disconnect()

  const kafka = client('admin-secret')
  const admin = kafka.admin()
  await admin.connect()
  const topic = `kjs-sasl-${Date.now()}`
  assert(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), 'created')

  const producer = kafka.producer()
  await producer.connect()
  const values = Array.from({ length: 20 }, (_, i) => `scram ${i}`)
  const result = await producer.send({ topic, acks: -1, messages: values.map(value => ({ value })) })
  assert(result.length === 1 && result[0].errorCode === 0 && result[0].baseOffset === '0', JSON.stringify(result))
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: `${topic}-group`, sessionTimeout: 10000, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const got = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of 20 in 30 s`)), 30000)
    consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value.toString())
        if (got.length === values.length) { clearTimeout(timer); resolve() }
      },
    }).catch(reject)
  })
  await consumer.disconnect()
  assert(JSON.stringify(got) === JSON.stringify(values), `consumed ${JSON.stringify(got)}`)
  const committed = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] })
  assert(committed[0].partitions[0].offset === '20', `committed ${JSON.stringify(committed)}`)
  await admin.disconnect()
  console.log('OK kafkajs_sasl')
})().catch(e => { console.error('FAILED', e); process.exit(1) })
