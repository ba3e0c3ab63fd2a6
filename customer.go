package izytroniq

import (
	"strings"
	"time"
)

// Customer is a company whose devices are tested.
type Customer struct {
	ID        string    `json:"id"`
	Number    string    `json:"number"`
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	Contacts  []Contact `json:"contacts"`
	Version   int64     `json:"version"`
	Seq       int64     `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Contact is a person to call at a customer.
type Contact struct {
	Name  string `json:"name"`
	Role  string `json:"role,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Validate checks the fields a person types.
func (c *Customer) Validate() error {
	c.Number = strings.TrimSpace(c.Number)
	c.Name = strings.TrimSpace(c.Name)
	if err := checkText("number", c.Number, 1, 64); err != nil {
		return err
	}
	if err := checkText("name", c.Name, 1, 200); err != nil {
		return err
	}
	if err := checkText("address", c.Address, 0, 1000); err != nil {
		return err
	}
	if len(c.Contacts) > 50 {
		return Errorf(EINVALID, "a customer has at most 50 contacts")
	}
	for i, k := range c.Contacts {
		if err := checkText("contacts[].name", k.Name, 1, 200); err != nil {
			return Errorf(EINVALID, "contact %d: %s", i+1, ErrorMessage(err))
		}
		for _, f := range []string{k.Role, k.Phone, k.Email} {
			if err := checkText("contact field", f, 0, 200); err != nil {
				return Errorf(EINVALID, "contact %d: %s", i+1, ErrorMessage(err))
			}
		}
	}
	return nil
}

// CustomerFilter selects customers for a list.
type CustomerFilter struct {
	GrantedTo string // when set, only customers this user holds a grant for
	Query     string // text search on number and name
	Page
}
