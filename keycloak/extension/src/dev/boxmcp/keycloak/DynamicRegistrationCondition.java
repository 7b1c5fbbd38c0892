package dev.boxmcp.keycloak;

import org.keycloak.models.KeycloakSession;
import org.keycloak.representations.idm.ClientPolicyConditionConfigurationRepresentation;
import org.keycloak.services.clientpolicy.ClientPolicyContext;
import org.keycloak.services.clientpolicy.ClientPolicyVote;
import org.keycloak.services.clientpolicy.condition.AbstractClientPolicyConditionProvider;
import org.keycloak.services.clientpolicy.context.DynamicClientRegisterContext;
import org.keycloak.services.clientpolicy.context.DynamicClientRegisteredContext;
import org.keycloak.services.clientpolicy.context.DynamicClientUpdateContext;
import org.keycloak.services.clientpolicy.context.DynamicClientUpdatedContext;

/** See {@link DynamicRegistrationConditionFactory}. */
public final class DynamicRegistrationCondition
        extends AbstractClientPolicyConditionProvider<ClientPolicyConditionConfigurationRepresentation> {

    public DynamicRegistrationCondition(KeycloakSession session) {
        super(session);
    }

    @Override
    public Class<ClientPolicyConditionConfigurationRepresentation> getConditionConfigurationClass() {
        return ClientPolicyConditionConfigurationRepresentation.class;
    }

    @Override
    public String getProviderId() {
        return DynamicRegistrationConditionFactory.PROVIDER_ID;
    }

    @Override
    public ClientPolicyVote applyPolicy(ClientPolicyContext context) {
        switch (context.getEvent()) {
            case REGISTER:
            case REGISTERED:
            case UPDATE:
            case UPDATED:
                boolean dynamic = context instanceof DynamicClientRegisterContext
                        || context instanceof DynamicClientRegisteredContext
                        || context instanceof DynamicClientUpdateContext
                        || context instanceof DynamicClientUpdatedContext;
                return dynamic ? ClientPolicyVote.YES : ClientPolicyVote.NO;
            default:
                return ClientPolicyVote.ABSTAIN;
        }
    }
}
