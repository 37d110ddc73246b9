using System.Xml.Linq;
using Herald.Secrets;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Herald.ApiService.Portal;

/// <summary>
/// The Data Protection key ring (portal session cookies, form tokens) lives in PostgreSQL, so every API replica reads
/// the cookies and forms another wrote, and sealed with Herald's sealing keys, so the database holds no key in clear.
/// Data Protection reads the ring rarely (it caches it for hours), so these calls are synchronous, as its interface is.
/// </summary>
public static class DataProtectionKeys
{
    public static void AddHeraldDataProtection(this IServiceCollection services)
    {
        services.AddDataProtection().SetApplicationName("herald");
        services.AddSingleton<PostgresXmlRepository>();
        services.AddSingleton<SealingXmlEncryptor>();
        services.AddOptions<KeyManagementOptions>()
            .Configure<PostgresXmlRepository, SealingXmlEncryptor>((options, repository, encryptor) =>
                (options.XmlRepository, options.XmlEncryptor) = (repository, encryptor));
    }

    internal static SealedField Field(string name) => new("data protection key", name);
}

internal sealed class PostgresXmlRepository(NpgsqlDataSource dataSource) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var query = dataSource.CreateCommand("SELECT xml FROM data_protection_keys ORDER BY created_at");
        using var reader = query.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read()) elements.Add(XElement.Parse(reader.GetString(0)));
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var insert = dataSource.CreateCommand("INSERT INTO data_protection_keys (name, xml) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING");
        insert.Parameters.Add(new() { Value = friendlyName });
        insert.Parameters.Add(new() { Value = element.ToString(SaveOptions.DisableFormatting) });
        insert.ExecuteNonQuery();
    }
}

/// <summary>Seals a key's secret part as a signing secret is sealed: bound to the key's id, and readable with any of
/// the configured sealing keys, so rotating them (README) keeps existing sessions.</summary>
internal sealed class SealingXmlEncryptor(SecretSealer sealer) : IXmlEncryptor
{
    public const string ElementName = "sealed";

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var sealedValue = sealer.Seal(plaintextElement.ToString(SaveOptions.DisableFormatting), DataProtectionKeys.Field(ElementName));
        return new EncryptedXmlInfo(new XElement(ElementName, sealedValue), typeof(SealingXmlDecryptor));
    }
}

internal sealed class SealingXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement) =>
        XElement.Parse(services.GetRequiredService<SecretSealer>().Unseal(encryptedElement.Value, DataProtectionKeys.Field(SealingXmlEncryptor.ElementName)));
}
