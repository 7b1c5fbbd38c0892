package dev.boxmcp.keycloak;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonProperty;
import org.jboss.logging.Logger;
import org.keycloak.models.ClientModel;
import org.keycloak.models.ClientScopeModel;
import org.keycloak.models.KeycloakSession;
import org.keycloak.models.RealmModel;
import org.keycloak.protocol.oauth2.cimd.clientpolicy.context.CimdClientRegisteredContext;
import org.keycloak.representations.idm.ClientPolicyExecutorConfigurationRepresentation;
import org.keycloak.services.clientpolicy.ClientPolicyContext;
import org.keycloak.services.clientpolicy.ClientPolicyEvent;
import org.keycloak.services.clientpolicy.context.ClientCRUDClientAvailableContext;
import org.keycloak.services.clientpolicy.context.DynamicClientRegisteredContext;
import org.keycloak.services.clientpolicy.executor.ClientPolicyExecutorProvider;

/** See {@link StepUpScopesExecutorFactory}. */
public final class StepUpScopesExecutor
        implements ClientPolicyExecutorProvider<StepUpScopesExecutor.Configuration> {

    private static final Logger LOG = Logger.getLogger(StepUpScopesExecutor.class);

    private final KeycloakSession session;
    private Configuration configuration = new Configuration();

    public StepUpScopesExecutor(KeycloakSession session) {
        this.session = session;
    }

    @Override
    public void setupConfiguration(Configuration config) {
        this.configuration = config == null ? new Configuration() : config;
    }

    @Override
    public Class<Configuration> getExecutorConfigurationClass() {
        return Configuration.class;
    }

    @Override
    public String getProviderId() {
        return StepUpScopesExecutorFactory.PROVIDER_ID;
    }

    @Override
    public void executeOnEvent(ClientPolicyContext context) {
        if (context.getEvent() != ClientPolicyEvent.REGISTERED) {
            return;
        }
        // Only clients that registered themselves; an administrator's choice stands.
        if (!(context instanceof DynamicClientRegisteredContext)
                && !(context instanceof CimdClientRegisteredContext)) {
            return;
        }
        ClientModel client = ((ClientCRUDClientAvailableContext) context).getTargetClient();
        if (client == null) {
            return;
        }
        RealmModel realm = session.getContext().getRealm();
        Map<String, ClientScopeModel> defaults = client.getClientScopes(true);
        Map<String, ClientScopeModel> optional = client.getClientScopes(false);
        for (String name : configuration.scopes()) {
            if (defaults.containsKey(name) || optional.containsKey(name)) {
                continue;
            }
            ClientScopeModel scope = realm.getClientScopesStream()
                    .filter(s -> name.equals(s.getName()))
                    .findFirst()
                    .orElse(null);
            if (scope == null) {
                LOG.warnf("%s: realm %s has no client scope %s; not added to client %s",
                        getProviderId(), realm.getName(), name, client.getClientId());
                continue;
            }
            if (!client.getProtocol().equals(scope.getProtocol())) {
                continue;
            }
            client.addClientScope(scope, false);
            LOG.debugf("%s: optional scope %s added to client %s", getProviderId(), name, client.getClientId());
        }
    }

    public static final class Configuration extends ClientPolicyExecutorConfigurationRepresentation {
        @JsonProperty(StepUpScopesExecutorFactory.OPTIONAL_SCOPES)
        private List<String> optionalScopes;

        public List<String> getOptionalScopes() {
            return optionalScopes;
        }

        public void setOptionalScopes(List<String> optionalScopes) {
            this.optionalScopes = optionalScopes;
        }

        List<String> scopes() {
            return optionalScopes == null
                    ? List.of()
                    : optionalScopes.stream().filter(s -> s != null && !s.isBlank()).map(String::trim).toList();
        }
    }
}
