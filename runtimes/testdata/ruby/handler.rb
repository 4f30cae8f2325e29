# frozen_string_literal: true

# Test fixture for runtimes/test-runtimes.sh: behaves as ?mode= (or the first path segment) asks.
# Modes: echo, binary, raise, unicode-raise, string, json, none, status, sleep (&seconds=N), fs, egress (&host=&port=),
# fork (leaves a child running), procs (the other processes in the container).

require 'socket'

def handle(request)
  mode = request.query_params['mode'] || request.path.split('/')[1] || 'echo'
  case mode
  when 'echo'
    { status: 200,
      body: { method: request.method, path: request.path, query: request.query,
              queryParams: request.query_params, contentType: request.headers['content-type'],
              json: request.body.empty? ? nil : request.json } }
  when 'binary' then (0..255).to_a.pack('C*') * 16
  when 'raise' then raise ArgumentError, 'boom requested'
  when 'unicode-raise' then raise "d\u00e9j\u00e0 vu \u2603\nsecond line"
  when 'string' then 'plain string'
  when 'json' then [1, 'two', { three: 3 }, nil, true]
  when 'none' then nil
  when 'status' then { status: 201, headers: { 'X-Fixture' => 'yes' }, body: 'created' }
  when 'sleep'
    sleep Float(request.query_params.fetch('seconds', '1'))
    'slept'
  when 'fs'
    { uid: Process.uid, gid: Process.gid, tmp: can_write?('/tmp/probe'), root: can_write?('/probe'),
      app: can_write?('/app/probe') }
  when 'fork'
    Process.spawn('sleep', '300')
    'forked'
  when 'procs' then Dir.children('/proc').grep(/\A\d+\z/).map(&:to_i).reject { |pid| [Process.pid, 1].include?(pid) }.sort
  when 'egress' then connect(request.query_params.fetch('host', '1.1.1.1'), Integer(request.query_params.fetch('port', '80')))
  else { status: 404, body: "unknown mode #{mode}" }
  end
end

def can_write?(path)
  File.write(path, 'x')
  File.delete(path)
  true
rescue SystemCallError
  false
end

def connect(host, port)
  Socket.tcp(host, port, connect_timeout: 2).close
  { connected: true }
rescue SystemCallError, SocketError, IOError => e
  { connected: false, error: e.message }
end
