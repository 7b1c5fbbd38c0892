package dev.boxmcp.keycloak;

import java.util.List;

import org.keycloak.Config;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.KeycloakSessionFactory;
import org.keycloak.provider.ProviderConfigProperty;
import org.keycloak.services.clientpolicy.executor.ClientPolicyExecutorProvider;
import org.keycloak.services.clientpolicy.executor.ClientPolicyExecutorProviderFactory;

/**
 * Client-policy executor {@value #PROVIDER_ID}: gives every client created by dynamic
 * client registration or from a Client ID Metadata Document the configured client
 * scopes as optional scopes, so that it can step up to them later.
 *
 * <p>Why it exists: Keycloak turns the {@code scope} of a registration (or of a metadata
 * document) into the client's complete list of optional scopes. MCP clients register
 * with the scope of the server's first challenge ({@code mcp:tools}), so without this
 * executor they can never obtain {@code box:write}: Keycloak silently drops a requested
 * scope the client does not have. No built-in executor or registration policy adds
 * scopes to a client.
 */
public final class StepUpScopesExecutorFactory implements ClientPolicyExecutorProviderFactory {

    public static final String PROVIDER_ID = "box-mcp-step-up-scopes";
    public static final String OPTIONAL_SCOPES = "optional-scopes";

    @Override
    public ClientPolicyExecutorProvider<StepUpScopesExecutor.Configuration> create(KeycloakSession session) {
        return new StepUpScopesExecutor(session);
    }

    @Override
    public void init(Config.Scope config) {}

    @Override
    public void postInit(KeycloakSessionFactory factory) {}

    @Override
    public void close() {}

    @Override
    public String getId() {
        return PROVIDER_ID;
    }

    @Override
    public String getHelpText() {
        return "Adds the listed client scopes as optional scopes to clients created by dynamic client"
                + " registration or from a Client ID Metadata Document, so that they can request them"
                + " later (step-up). Scopes the realm does not have are reported and skipped.";
    }

    @Override
    public List<ProviderConfigProperty> getConfigProperties() {
        ProviderConfigProperty scopes = new ProviderConfigProperty(
                OPTIONAL_SCOPES,
                "Optional scopes",
                "Client scopes (by name) every registered client gets as optional scopes.",
                ProviderConfigProperty.MULTIVALUED_STRING_TYPE,
                null);
        return List.of(scopes);
    }
}
