# frozen_string_literal: true

# The Ruby runner's HTTP/1.1 server: one thread per connection, keep-alive, Content-Length and
# chunked request bodies, every response with a Content-Length.
module Canopy
  # The request could not be framed: answer 400 and close, as the connection cannot be reused.
  class BadRequest < StandardError; end

  REASONS = {
    200 => 'OK', 201 => 'Created', 202 => 'Accepted', 204 => 'No Content', 301 => 'Moved Permanently',
    302 => 'Found', 304 => 'Not Modified', 400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden',
    404 => 'Not Found', 409 => 'Conflict', 422 => 'Unprocessable Content', 500 => 'Internal Server Error'
  }.freeze
  MAX_LINE = 16 * 1024

  # Serves the function on 0.0.0.0:port.
  class Server
    def initialize(port, handle, load_error)
      @port = port
      @handle = handle
      @load_error = load_error
    end

    def run
      server = TCPServer.new('0.0.0.0', @port)
      warn "canopy ruby runner listening on :#{@port}"
      loop do
        socket = server.accept
        Thread.new(socket) { |s| serve_connection(s) }
      end
    end

    private

    def serve_connection(socket)
      # Nagle's algorithm plus the client's delayed ACK would hold small responses ~40 ms.
      socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      socket.binmode
      loop do
        request = read_request(socket)
        break if request.nil?

        keep_alive = request.delete(:keep_alive)
        invoked = !(request[:method] == 'GET' && request[:path] == HEALTH_PATH)
        status, headers, data = invoked ? invoke(request) : [200, { 'Content-Type' => TEXT }, 'ok']
        write(socket, request[:method], status, headers, data, keep_alive)
        # The response is out; nothing the function started may outlive its task in a warm
        # container that the next task of the function reuses.
        Canopy.reap_strays if invoked
        break unless keep_alive
      end
    rescue BadRequest => e
      write(socket, 'GET', 400, { 'Content-Type' => TEXT }, "bad request: #{e.message}", false)
    rescue IOError, SystemCallError
      nil # the client went away
    ensure
      socket.close
    end

    def invoke(request)
      raise HandlerError, @load_error if @handle.nil?

      Canopy.to_response(@handle.call(Request.new(*request.values_at(:method, :path, :query, :params, :headers, :body))))
    rescue HandlerError => e
      failure(e.message)
    rescue Exception => e # rubocop:disable Lint/RescueException -- handler code may raise anything, even SystemExit
      warn e.full_message
      failure(Canopy.describe(e))
    end

    def failure(message)
      safe = Canopy.header_safe(message)
      [500, { 'Content-Type' => TEXT, 'X-Canopy-Error' => safe.empty? ? 'error' : safe }, "error: #{message}"]
    end

    # nil at the end of the connection.
    def read_request(socket)
      line = read_line(socket)
      line = read_line(socket) while line == '' # tolerate blank lines between requests
      return nil if line.nil?

      method, target, version = line.split(' ', 3)
      raise BadRequest, 'malformed request line' if version.nil? || !version.start_with?('HTTP/1.')

      headers = read_headers(socket)
      path, _, query = target.partition('?')
      connection = headers.fetch('connection', '').downcase
      { method: method, path: path, query: query, params: query_params(query), headers: headers,
        body: read_body(socket, headers),
        keep_alive: version == 'HTTP/1.1' ? connection != 'close' : connection == 'keep-alive' }
    end

    def read_line(socket)
      line = socket.gets("\n", MAX_LINE)
      return nil if line.nil?
      raise BadRequest, 'line too long' unless line.end_with?("\n")

      line.chomp.force_encoding(Encoding::UTF_8).scrub
    end

    def read_headers(socket)
      headers = {}
      while (line = read_line(socket)) && !line.empty?
        name, value = line.split(':', 2)
        raise BadRequest, 'malformed header' if value.nil?

        key = name.strip.downcase
        headers[key] = headers.key?(key) ? "#{headers[key]}, #{value.strip}" : value.strip
      end
      raise BadRequest, 'connection closed in the headers' if line.nil?

      headers
    end

    def read_body(socket, headers)
      return read_chunked(socket) if headers.fetch('transfer-encoding', '').downcase.include?('chunked')

      length = headers['content-length']
      return ''.b if length.nil? || length.empty?
      raise BadRequest, 'invalid Content-Length' unless length.match?(/\A\d+\z/)

      read_exactly(socket, Integer(length, 10))
    end

    def read_chunked(socket)
      body = ''.b
      loop do
        size_line = read_line(socket) or raise BadRequest, 'connection closed in a chunk'
        size_text = size_line.split(';', 2).first.strip
        raise BadRequest, 'invalid chunk size' unless size_text.match?(/\A\h+\z/)

        size = size_text.to_i(16)
        if size.zero?
          nil while (trailer = read_line(socket)) && !trailer.empty? # trailers carry nothing the function needs
          return body
        end
        body << read_exactly(socket, size)
        read_line(socket)
      end
    end

    def read_exactly(socket, size)
      data = socket.read(size)
      raise BadRequest, 'connection closed in the body' if data.nil? || data.bytesize < size

      data
    end

    def query_params(query)
      URI.decode_www_form(query).to_h
    rescue ArgumentError
      {}
    end

    def write(socket, method, status, headers, data, keep_alive)
      data = '' if [204, 304].include?(status) # these carry no body; a stray one would break framing
      head = +"HTTP/1.1 #{status} #{REASONS.fetch(status, 'Status')}\r\n"
      headers.each do |name, value|
        next if %w[content-length transfer-encoding connection].include?(name.downcase)

        head << "#{name}: #{value}\r\n"
      end
      head << "Content-Length: #{data.bytesize}\r\nServer: canopy-ruby\r\n"
      head << "Connection: close\r\n" unless keep_alive
      socket.write(head.b, "\r\n", method == 'HEAD' ? '' : data.b)
    end
  end
end
