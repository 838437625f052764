// kafkajs 2.2's consumer in a group against a kzero broker, run by server/tests/it/groups.rs: subscribe,
// consume (offsets auto-committed after each batch), disconnect; a second run of the same group gets only
// the records produced since, and the admin client sees the commits and the group.
// Usage: node kafkajs_groups.js BOOTSTRAP; prints "OK kafkajs groups" on success, exits non-zero otherwise.
const { Kafka, logLevel } = require('kafkajs')

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const kafka = new Kafka({ clientId: 'kzero-kafkajs-groups', brokers: [process.argv[2]], logLevel: logLevel.WARN })
const assert = (ok, what) => { if (!ok) throw new Error(`assertion failed: ${what}`) }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
// Bounds a wait; the timer is cleared so that it does not keep the process alive.
const within = (promise, ms, what) => {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// One run of the group: consumes until `want` records arrived, then 1 s more (nothing else may come).
async function run (groupId, topic, want) {
  // A short fetch wait, so that disconnecting does not wait for a 5 s long poll.
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const got = []
  let enough
  const done = new Promise(resolve => { enough = resolve })
  const started = Date.now()
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push(message.value.toString())
      if (got.length >= want) enough()
    },
  })
  await within(done, 30000, `${want} records for ${groupId} (got ${got.length})`)
  const took = Date.now() - started
  await sleep(1000)
  await within(consumer.disconnect(), 15000, 'disconnect')
  return { got, took }
}

const committed = async (admin, groupId, topic) => {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return t.partitions.sort((a, b) => a.partition - b.partition).map(p => Number(p.offset))
}

;(async () => {
  const admin = kafka.admin()
  await admin.connect()
  const topic = `kjs-grp-${Date.now()}`
  const groupId = `kjs-g-${Date.now()}`
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
  const producer = kafka.producer()
  await producer.connect()
  const send = async (tag, n) => {
    const messages = []
    for (let i = 0; i < n; i++) messages.push({ partition: i % 3, value: `${tag}-${i}` })
    await producer.send({ topic, acks: -1, messages })
    return messages.map(m => m.value)
  }

  const first = await send('one', 30)
  const one = await run(groupId, topic, 30)
  assert(JSON.stringify(one.got.sort()) === JSON.stringify(first.sort()), `first run: ${one.got.length} records`)
  const after1 = await committed(admin, groupId, topic)
  assert(JSON.stringify(after1) === '[10,10,10]', `committed after the first run: ${after1}`)

  const second = await send('two', 9)
  const two = await run(groupId, topic, 9)
  assert(JSON.stringify(two.got.sort()) === JSON.stringify(second.sort()),
    `second run got ${two.got.length} records: ${two.got.slice(0, 12)}`)
  const after2 = await committed(admin, groupId, topic)
  assert(JSON.stringify(after2) === '[13,13,13]', `committed after the second run: ${after2}`)

  const { groups } = await admin.listGroups()
  assert(groups.some(g => g.groupId === groupId && g.protocolType === 'consumer'), `listed: ${JSON.stringify(groups)}`)
  const described = await admin.describeGroups([groupId])
  assert(described.groups[0].state === 'Empty', `state after both runs left: ${described.groups[0].state}`)

  await producer.disconnect()
  await admin.disconnect()
  console.log(`first run's records after ${one.took} ms, second run's after ${two.took} ms`)
  console.log('OK kafkajs groups')
})().catch(e => { console.error('FAILED', e); process.exit(1) })
