using Microsoft.Extensions.Configuration;

namespace Herald.AppHost.Infrastructure.External;

public static class ExternalServerExtensions
{
    /// <summary>An existing server given as <c>ConnectionStrings:&lt;name&gt;</c> in the AppHost's configuration, which
    /// replaces whatever the mode would provide for that name; null when none is given.</summary>
    public static IResourceBuilder<IResourceWithConnectionString>? AddExternalServer(this IDistributedApplicationBuilder builder, string name) =>
        string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(name)) ? null : builder.AddConnectionString(name);
}
