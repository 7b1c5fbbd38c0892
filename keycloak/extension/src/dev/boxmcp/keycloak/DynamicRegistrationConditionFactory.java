package dev.boxmcp.keycloak;

import java.util.ArrayList;
import java.util.List;

import org.keycloak.models.KeycloakSession;
import org.keycloak.provider.ProviderConfigProperty;
import org.keycloak.services.clientpolicy.condition.AbstractClientPolicyConditionProviderFactory;
import org.keycloak.services.clientpolicy.condition.ClientPolicyConditionProvider;

/**
 * Client-policy condition {@value #PROVIDER_ID}: true for a client's own dynamic client
 * registration (RFC 7591) and its updates, false for every other way a client comes to
 * be, in particular the clients Keycloak creates from a Client ID Metadata Document.
 *
 * <p>Why it exists: the built-in {@code client-updater-context} condition sees no token
 * in a CIMD registration and calls it anonymous, so a DCR-only policy also runs for CIMD
 * clients; and the {@code secure-client-uris-pattern} executor refuses any event that is
 * not an admin or DCR one ("not allowed input format"), which breaks every CIMD login.
 */
public final class DynamicRegistrationConditionFactory extends AbstractClientPolicyConditionProviderFactory {

    public static final String PROVIDER_ID = "box-mcp-dynamic-registration";

    private static final List<ProviderConfigProperty> CONFIG = new ArrayList<>();

    static {
        addCommonConfigProperties(CONFIG);
    }

    @Override
    public ClientPolicyConditionProvider<?> create(KeycloakSession session) {
        return new DynamicRegistrationCondition(session);
    }

    @Override
    public String getId() {
        return PROVIDER_ID;
    }

    @Override
    public String getHelpText() {
        return "True for dynamic client registrations (RFC 7591) and their updates; false for"
                + " clients created by an administrator or from a Client ID Metadata Document.";
    }

    @Override
    public List<ProviderConfigProperty> getConfigProperties() {
        return CONFIG;
    }
}
