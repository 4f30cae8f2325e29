# frozen_string_literal: true

# Canopy Ruby runner: serves the function in /app/handler.rb over HTTP (docs/runtime-contract.md).
# Standard library only, and its own small HTTP/1.1 server: WEBrick left Ruby's default gems in 3.0.

require 'json'
require 'socket'
require 'uri'
require_relative 'server'

APP_DIR = ENV.fetch('CANOPY_APP_DIR', '/app')
HEALTH_PATH = '/__canopy/health'
MAX_ERROR_HEADER = 1000
TEXT = 'text/plain; charset=utf-8'
# RFC 9110 token and field-value; anything else would corrupt the response.
TOKEN = /\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\z/.freeze
FIELD_VALUE = /\A[\t\x20-\x7e\x80-\xff]*\z/n.freeze

module Canopy
  # What the handler receives; names follow docs/runtime-contract.md in Ruby's snake_case.
  class Request
    attr_reader :path, :query, :query_params, :headers, :body

    def initialize(method, path, query, query_params, headers, body)
      @method = method
      @path = path
      @query = query
      @query_params = query_params
      @headers = headers
      @body = body
    end

    # The HTTP method; with an argument this is still Object#method.
    def method(*args)
      args.empty? ? @method : super
    end

    def text
      @body.dup.force_encoding(Encoding::UTF_8)
    end

    def json
      JSON.parse(text)
    end

    def inspect
      "#<Canopy::Request #{@method} #{@path}?#{@query}, #{@body.bytesize} bytes>"
    end
  end

  # The function failed: its message becomes the 500 body and the X-Canopy-Error header.
  class HandlerError < StandardError; end

  module_function

  def describe(error)
    error.message.empty? ? error.class.name : "#{error.class.name}: #{error.message}"
  end

  # One printable-ASCII line, escaped the same way as the other runners.
  def header_safe(message)
    out = message.to_s.dup.force_encoding(Encoding::UTF_8).scrub.each_char.map do |ch|
      code = ch.ord
      if code >= 0x20 && code < 0x7f then ch
      elsif code < 0x20 || code == 0x7f then ' '
      elsif code <= 0xffff then format('\\u%04x', code)
      else format('\\U%08x', code)
      end
    end
    out.join.strip[0, MAX_ERROR_HEADER]
  end

  # Imports handle once at start; a broken entry point is reported per request, not fatal.
  def load_handler
    path = File.join(APP_DIR, 'handler.rb')
    # Files next to handler.rb must be loadable with require, as when running it locally.
    $LOAD_PATH.unshift(APP_DIR)
    raise LoadError, "no handler.rb in #{APP_DIR}" unless File.file?(path)

    load path
    return [nil, 'handler.rb does not define handle(request)'] unless respond_to_handle?

    [TOPLEVEL_BINDING.receiver.method(:handle), nil]
  rescue Exception => e # rubocop:disable Lint/RescueException -- even `exit` in the file must not stop us
    warn e.full_message
    [nil, "loading handler.rb failed: #{describe(e)}"]
  end

  def respond_to_handle?
    Object.private_method_defined?(:handle) || Object.method_defined?(:handle)
  end

  def field(hash, key)
    hash.key?(key) ? hash[key] : hash[key.to_sym]
  end

  def response_object?(value)
    value.is_a?(Hash) && (value.key?('body') || value.key?(:body)) &&
      [:status, 'status', :headers, 'headers'].any? { |k| value.key?(k) }
  end

  # [status, headers, body] for what handle returned.
  def to_response(result)
    status = 200
    headers = {}
    body = result
    if response_object?(result)
      status = field(result, 'status') || 200
      unless status.is_a?(Integer) && status.between?(200, 599)
        raise HandlerError, "response status must be an integer from 200 to 599, got #{status.inspect}"
      end

      headers = response_headers(field(result, 'headers') || {})
      body = field(result, 'body')
    end
    data, content_type = encode_body(body)
    headers['Content-Type'] = content_type if content_type && headers.keys.none? { |k| k.casecmp?('content-type') }
    [status, headers, data]
  end

  def response_headers(given)
    raise HandlerError, 'response headers must be a Hash of name => value' unless given.is_a?(Hash)

    given.to_h do |name, value|
      name = name.to_s
      value = value.to_s
      raise HandlerError, "invalid response header #{name.inspect}" unless TOKEN.match?(name) && FIELD_VALUE.match?(value.b)

      [name, value]
    end
  end

  # A binary String (Encoding::BINARY, e.g. from String#b or pack) is bytes; any other String is text.
  def encode_body(body)
    case body
    when nil then ['', nil]
    when String
      return [body.b, 'application/octet-stream'] if body.encoding == Encoding::BINARY

      [body.encode(Encoding::UTF_8).b, TEXT]
    else
      [JSON.generate(body).b, 'application/json']
    end
  rescue JSON::GeneratorError, EncodingError, TypeError => e
    raise HandlerError, "handler returned a value that is not JSON: #{describe(e)}"
  end

  # Kills every other process in the container (what a function spawned and left running) and, as
  # PID 1, collects their exits.
  def reap_strays
    keep = [Process.pid, Process.ppid, 1]
    Dir.children('/proc').grep(/\A\d+\z/).map(&:to_i).each do |pid|
      next if keep.include?(pid)

      begin
        Process.kill(:KILL, pid)
        Process.wait(pid)
      rescue Errno::ESRCH, Errno::EPERM, Errno::ECHILD
        nil # gone already, or not ours to collect
      end
    end
    loop { break unless Process.wait(-1, Process::WNOHANG) }
  rescue Errno::ECHILD
    nil
  end
end

# As PID 1 the default SIGTERM action is ignored; `docker stop` should not wait for SIGKILL.
Signal.trap('TERM') { exit!(0) }
Signal.trap('INT') { exit!(0) }
$stdout.sync = true
$stderr.sync = true
handle, load_error = Canopy.load_handler
Canopy::Server.new(Integer(ENV.fetch('PORT', '8080')), handle, load_error).run
