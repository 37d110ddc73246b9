using System.Net.Sockets;
using System.Text;

namespace Herald.Tests.Harness;

/// <summary>HTTP/1.1 requests written byte for byte, for what HttpClient refuses to send: bytes that are not ASCII, or
/// are control characters, in the request line and headers.</summary>
public static class RawHttp
{
    /// <summary>Sends one request (the connection closes after it); returns the response's status code.</summary>
    public static async Task<int> SendAsync(Uri server, string method, byte[] target, string apiKey, (string Name, byte[] Value)[] headers, string? json = null)
    {
        var body = json is null ? [] : Encoding.UTF8.GetBytes(json);
        using var request = new MemoryStream();
        void Write(string text) => request.Write(Encoding.ASCII.GetBytes(text));
        Write($"{method} ");
        request.Write(target);
        Write($" HTTP/1.1\r\nHost: {server.Authority}\r\nAuthorization: Bearer {apiKey}\r\nConnection: close\r\n");
        if (json is not null) Write($"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n");
        foreach (var (name, value) in headers)
        {
            Write($"{name}: ");
            request.Write(value);
            Write("\r\n");
        }
        Write("\r\n");
        request.Write(body);

        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(request.ToArray());
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) ?? "";
        var parts = statusLine.Split(' ');
        return parts.Length > 1 && int.TryParse(parts[1], out var status) ? status : throw new InvalidOperationException($"No HTTP response: '{statusLine}'");
    }
}
